import { Wallet } from "ethers";
import OpenAI from "openai";
import t, { type Test } from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import type { DatabaseHandle } from "../../services/db/connection.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { until } from "../helpers/until.ts";
import { billedPromptTokens, startTestUpstream } from "../helpers/upstream.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "./build.ts";

const messages = [{ role: "user" as const, content: "hi" }];
// The test upstream answers exactly max_tokens, so every call costs exactly what it reserves.
const cost = billedPromptTokens({ messages }) + 1;

/**
 * Two gateway replicas (each with its own connection pool, as separate processes would have) on one
 * Postgres; `calls` concurrent calls, spread over the consumers and alternating replicas. Returns the
 * outcome of each call (ADMITTED or the reason code), with the consumer that made it.
 */
async function raceOnTwoReplicas(
  t: Test,
  o: { consumers: number; calls: number; seed: (db: DatabaseHandle, consumers: string[]) => Promise<void> },
) {
  const url = await createTestDatabase(t);
  const first = await openMigrated(t, url, 8);
  const second = await openMigrated(t, url, 8);
  const upstream = await startTestUpstream();
  t.teardown(() => upstream.close());
  const consumers = Array.from({ length: o.consumers }, () => Wallet.createRandom().address);
  await o.seed(first, consumers);
  // Hundreds of calls at once on a loaded 2-core machine can wait seconds for the upstream: the race is
  // about budgets, so the upstream's deadline must not be what ends a call.
  const env = { UPSTREAM_TIMEOUT_MS: "60000" };
  const replicas = [
    await buildGateway(t, { database: first, upstreamUrl: upstream.url, env }),
    await buildGateway(t, { database: second, upstreamUrl: upstream.url, env }),
  ];
  const keys = await Promise.all(consumers.map(async (address) => (await issueApiKey(first.db, { address })).key));
  const outcomes = await Promise.all(
    Array.from({ length: o.calls }, (_, i) => {
      const consumer = i % o.consumers;
      return (replicas[i % 2] as (typeof replicas)[number])
        .client(keys[consumer] as string)
        .chat.completions.create({ model: "m", messages, max_tokens: 1 })
        .then(() => "ADMITTED")
        .catch((error: unknown) => (error instanceof OpenAI.APIError ? String(error.code) : String(error)))
        .then((outcome) => ({ consumer: consumers[consumer] as string, outcome }));
    }),
  );
  return { db: first.db, outcomes, admitted: outcomes.filter((o) => o.outcome === "ADMITTED").length };
}

type Race = Awaited<ReturnType<typeof raceOnTwoReplicas>>;

/** A budget counter row after the race. */
const counter = (db: Race["db"], account: string) =>
  db.selectFrom("gateway_budget_counters").selectAll().where("account", "=", account).executeTakeFirstOrThrow();

/**
 * Every refusal was for budget; one audit record per decision; the ledger equals the sum of the audit
 * records. Returns the tokens the ledger holds.
 */
async function checkRace(t: Test, { db, outcomes, admitted }: Race) {
  t.same(
    new Set(outcomes.filter((o) => o.outcome !== "ADMITTED").map((o) => o.outcome)),
    new Set(["BUDGET_EXHAUSTED"]),
  );
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
  t.equal(Number(audit.n), outcomes.length, "one audit record per decision");
  t.equal(Number(admittedRecords.n), admitted);
  t.equal(Number(ledger.used), Number(audit.used), "the ledger equals the sum of the audit records");
  return Number(ledger.used);
}

/** One consumer whose grant is worth `granted` calls races `calls` calls on two replicas. */
async function raceForOneGrant(t: Test, calls: number, granted: number) {
  const race = await raceOnTwoReplicas(t, {
    consumers: 1,
    calls,
    seed: (database, [consumer]) =>
      seedIndex(database, {
        policies: [policyRow("m", { allowed_purposes: [], requests_per_minute: 1_000_000 })],
        grants: [{ grantId: 1, grantee: consumer as string, tokensPerEpoch: cost * granted }],
        // No community allowance: the grant is all this consumer has.
        pool: { allowancePerAddress: 0, poolSizePerEpoch: 1_000_000 },
      }),
  });
  t.comment(`admitted ${race.admitted} of ${calls} concurrent calls on two replicas, ${granted} granted`);
  t.ok(race.admitted <= granted, "never more than granted");
  return race;
}

t.test("two replicas on one Postgres never admit more than was granted", async (t) => {
  const CALLS_GRANTED = 50;
  const race = await raceForOneGrant(t, 500, CALLS_GRANTED);
  const { admitted } = race;
  t.equal(admitted, CALLS_GRANTED, "and no granted call was lost to the race");
  const grant = await counter(race.db, "grant:1");
  t.match(grant, { used: cost * CALLS_GRANTED, reserved: 0, budget_limit: cost * CALLS_GRANTED });
  t.equal(await checkRace(t, race), grant.used);
});

t.test("replicas admitting on slices of a large grant (leases) never admit more than was granted either", async (t) => {
  // Room for 64 calls or more: each replica leases slices and admits most calls without a round trip.
  const CALLS_GRANTED = 300;
  const race = await raceForOneGrant(t, 1_000, CALLS_GRANTED);
  const { admitted } = race;
  // Unused slices go back to the grant once idle: then only what was charged is left.
  const grant = await until(async () => {
    const c = await counter(race.db, "grant:1");
    return c.reserved === 0 ? c : undefined;
  }, "the replicas' unused slices to be given back");
  t.match(grant, { used: cost * admitted, budget_limit: cost * CALLS_GRANTED });
  t.equal(await checkRace(t, race), grant.used);
});

t.test(
  "many consumers racing for the community pool on two replicas: neither the pool nor an allowance is overspent",
  async (t) => {
    const CONSUMERS = 8;
    const CALLS = 400;
    const ALLOWANCE_CALLS = 10;
    const POOL_CALLS = 40;
    const race = await raceOnTwoReplicas(t, {
      consumers: CONSUMERS,
      calls: CALLS,
      seed: (database) =>
        seedIndex(database, {
          policies: [policyRow("m", { allowed_purposes: [], requests_per_minute: 1_000_000 })],
          // Allowances add up to twice the pool: the whole pool is what binds.
          pool: { allowancePerAddress: cost * ALLOWANCE_CALLS, poolSizePerEpoch: cost * POOL_CALLS },
        }),
    });
    const { db, outcomes, admitted } = race;
    t.comment(
      `admitted ${admitted} of ${CALLS} concurrent calls from ${CONSUMERS} consumers, pool worth ${POOL_CALLS}`,
    );
    t.equal(admitted, POOL_CALLS, "the whole pool, and not one call more");
    const perConsumer = new Map<string, number>();
    for (const o of outcomes)
      if (o.outcome === "ADMITTED") perConsumer.set(o.consumer, (perConsumer.get(o.consumer) ?? 0) + 1);
    t.ok(
      [...perConsumer.values()].every((n) => n <= ALLOWANCE_CALLS),
      `no consumer above its allowance (${[...perConsumer.values()].join(", ")})`,
    );
    const pool = await counter(db, "pool");
    t.match(pool, { used: cost * POOL_CALLS, reserved: 0 });
    const allowances = await db
      .selectFrom("gateway_budget_counters")
      .select(["account", "used", "reserved"])
      .where("account", "like", "pool:%")
      .execute();
    t.equal(
      allowances.reduce((sum, a) => sum + a.used, 0),
      pool.used,
      "the allowances add up to the pool",
    );
    t.ok(
      allowances.every((a) => a.reserved === 0 && a.used <= cost * ALLOWANCE_CALLS),
      "every allowance settled, none above its limit",
    );
    t.equal(await checkRace(t, race), pool.used);
  },
);
