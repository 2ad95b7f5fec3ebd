import { Wallet } from "ethers";
import OpenAI from "openai";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { estimateChatPromptTokens } from "../../services/gateway/tokens.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { startTestUpstream } from "../helpers/upstream.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "./build.ts";

const CALLS = 500;
const CALLS_GRANTED = 50;

t.test("two replicas on one Postgres never admit more than was granted", async (t) => {
  const url = await createTestDatabase(t);
  // Each replica has its own connection pool, as separate processes would.
  const first = await openMigrated(t, url, 8);
  const second = await openMigrated(t, url, 8);
  const upstream = await startTestUpstream();
  t.teardown(() => upstream.close());

  const consumer = Wallet.createRandom().address;
  const messages = [{ role: "user" as const, content: "hi" }];
  // The test upstream answers exactly max_tokens, so every call costs exactly what it reserves.
  const cost = estimateChatPromptTokens(messages) + 1;
  await seedIndex(first, {
    policies: [policyRow("m", { allowed_purposes: [], requests_per_minute: 1_000_000 })],
    grants: [{ grantId: 1, grantee: consumer, tokensPerEpoch: cost * CALLS_GRANTED }],
    // No community allowance: the grant is all this consumer has.
    pool: { allowancePerAddress: 0, poolSizePerEpoch: 1_000_000 },
  });
  const replicas = [
    await buildGateway(t, { database: first, upstreamUrl: upstream.url }),
    await buildGateway(t, { database: second, upstreamUrl: upstream.url }),
  ];
  const { key } = await issueApiKey(first.db, { address: consumer });
  const clients = replicas.map((r) => r.client(key));

  const outcomes = await Promise.all(
    Array.from({ length: CALLS }, (_, i) =>
      (clients[i % 2] as OpenAI).chat.completions
        .create({ model: "m", messages, max_tokens: 1 })
        .then(() => "ADMITTED")
        .catch((error: unknown) => (error instanceof OpenAI.APIError ? String(error.code) : String(error))),
    ),
  );
  const admitted = outcomes.filter((o) => o === "ADMITTED").length;
  t.comment(`admitted ${admitted} of ${CALLS} concurrent calls on two replicas, ${CALLS_GRANTED} granted`);
  t.ok(admitted <= CALLS_GRANTED, "never more than granted");
  t.equal(admitted, CALLS_GRANTED, "and no granted call was lost to the race");
  t.same(new Set(outcomes.filter((o) => o !== "ADMITTED")), new Set(["BUDGET_EXHAUSTED"]));

  const { db } = first;
  const grant = await db
    .selectFrom("gateway_budget_counters")
    .selectAll()
    .where("account", "=", "grant:1")
    .executeTakeFirstOrThrow();
  t.match(grant, { used: cost * CALLS_GRANTED, reserved: 0, budget_limit: cost * CALLS_GRANTED });
  const audit = await db
    .selectFrom("gateway_decisions")
    .select((eb) => [eb.fn.countAll<string>().as("n"), eb.fn.sum<string>("tokens_used").as("used")])
    .executeTakeFirstOrThrow();
  const admittedRecords = await db
    .selectFrom("gateway_decisions")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("admitted", "=", true)
    .executeTakeFirstOrThrow();
  const ledger = await db
    .selectFrom("gateway_usage")
    .select((eb) => eb.fn.sum<string>("tokens_used").as("used"))
    .executeTakeFirstOrThrow();
  t.equal(Number(audit.n), CALLS, "one audit record per decision");
  t.equal(Number(admittedRecords.n), admitted);
  t.equal(Number(ledger.used), Number(audit.used), "the ledger equals the sum of the audit records");
  t.equal(Number(ledger.used), grant.used);
});
