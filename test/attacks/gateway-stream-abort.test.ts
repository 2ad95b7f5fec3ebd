/**
 * Attack: ask for a stream and hang up before the first token. The upstream has accepted the call and
 * bills its prompt; the gateway must charge at least that, not 0.
 */
import { Wallet } from "ethers";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { buildGateway, openMigrated, policyRow, seedIndex, until } from "../gateway/build.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { ACCEPT_ONLY, billedPromptTokens, startTestUpstream } from "../helpers/upstream.ts";

const consumer = Wallet.createRandom().address;
const database = await openMigrated(t, await createTestDatabase(t));
const { db } = database;
const upstream = await startTestUpstream();
t.teardown(() => upstream.close());
await seedIndex(database, {
  policies: [policyRow("m", { allowed_purposes: [], blocked_terms: [] })],
  grants: [{ grantId: 1, grantee: consumer, tokensPerEpoch: 1_000_000 }],
  pool: { allowancePerAddress: 0, poolSizePerEpoch: 0 },
});
const gw = await buildGateway(t, { database, upstreamUrl: upstream.url });
const client = gw.client((await issueApiKey(db, { address: consumer })).key);

t.test("a stream the client aborts before its first token is charged at least its prompt", async (t) => {
  const messages = [
    { role: "user" as const, content: `${ACCEPT_ONLY} ${"a long prompt the upstream reads ".repeat(200)}` },
  ];
  const stream = await client.chat.completions.create({ model: "m", messages, max_tokens: 50, stream: true });
  // The upstream accepted the call (the stream has started: it bills the prompt), and no token came yet.
  for await (const chunk of stream) {
    t.equal(chunk.choices[0]?.delta?.content, "", "the first chunk carries no content");
    break; // leaving the loop aborts the request
  }

  const record = await until(async () => {
    const d = await db.selectFrom("gateway_decisions").selectAll().where("consumer", "=", consumer).executeTakeFirst();
    return d && d.outcome !== "PENDING" ? d : undefined;
  }, "the aborted call to settle");
  t.equal(record.outcome, "CLIENT_CLOSED");
  t.ok(
    (record.tokens_used as number) >= billedPromptTokens({ messages }),
    `charged ${record.tokens_used}, at least the ${billedPromptTokens({ messages })} prompt tokens billed`,
  );
  await until(async () => (upstream.abandoned > 0 ? true : undefined), "the upstream request to be closed");
});
