/**
 * Attack: ask for a stream and hang up before the first token. The upstream has accepted the call and
 * bills its prompt; the gateway must charge at least that, not 0.
 */
import t from "tap";
import { ACCEPT_ONLY, billedPromptTokens } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { gatewayUnderAttack } from "./gateway-target.ts";

const { db, upstream, client, consumers } = await gatewayUnderAttack(t);
const consumer = consumers[0]?.address as string;

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
