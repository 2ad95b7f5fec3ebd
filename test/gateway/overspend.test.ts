import { Wallet } from "ethers";
import OpenAI from "openai";
import t, { type Test } from "tap";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { issueApiKey } from "../../services/db/api-keys.ts";
import type { DatabaseHandle } from "../../services/db/connection.ts";
import { reserveCalls, settleCalls } from "../../services/db/ledger/client.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import { billedPromptTokens, startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { build } from "../helpers/app.ts";
import { adHoc } from "../helpers/graphql.ts";

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

t.test("a grant's last calls are not refused while what is left is split between a slice and Postgres", async (t) => {
  const upstream = await startTestUpstream();
  t.teardown(() => upstream.close());
  // The whole service (gateway and GraphQL API), as `npm start` runs it.
  const service = await build(t, { env: { UPSTREAM_URL: upstream.url } });
  const { db } = service.deps.database;
  const MAX_TOKENS = 8;
  const prompt = billedPromptTokens({ messages });
  const c = prompt + MAX_TOKENS;
  // Room for 64 calls and more: the replica takes slices of it.
  const granted = 1_000 * c;
  const consumer = Wallet.createRandom().address;
  await seedIndex(service.deps.database, {
    policies: [policyRow("m", { allowed_purposes: [], requests_per_minute: 1_000_000 })],
    grants: [{ grantId: 1, grantee: consumer, tokensPerEpoch: granted }],
    pool: { allowancePerAddress: 0, poolSizePerEpoch: 0 },
  });
  const { key } = await issueApiKey(db, { address: consumer });
  const client = new OpenAI({ apiKey: key, baseURL: service.urls.gateway, maxRetries: 0 });
  const callOnce = (maxTokens = MAX_TOKENS) =>
    client.chat.completions
      .create({ model: "m", messages, max_tokens: maxTokens })
      .then(() => "ADMITTED")
      .catch((error: unknown) => (error instanceof OpenAI.APIError ? String(error.code) : String(error)));
  const leased = async () =>
    (await db.selectFrom("gateway_leases").select("tokens").where("account", "=", "grant:1").executeTakeFirst())
      ?.tokens ?? 0;

  // Calls until the replica holds a slice (a refill starts once it has a fresh view of the grant).
  await until(async () => ((await callOnce()) === "ADMITTED" && (await leased()) > 0 ? true : undefined), "a slice");
  // One call on the slice that leaves it 5 tokens short of a whole number of calls.
  let adjust = ((await leased()) - 5) % c;
  if (adjust <= prompt) adjust += c;
  t.equal(await callOnce(adjust - prompt), "ADMITTED");
  const slice = await leased();
  t.equal(slice % c, 5, "the slice ends in a part of a call");
  // Another replica spends the rest of the grant through the guard, down to less than one call, such
  // that what is left there and what is left in the slice make one call more.
  const left = c - (slice % c) + 1;
  const grant = await counter(db, "grant:1");
  const spend = granted - grant.used - grant.reserved - left;
  const now = Date.now();
  const epochStart = Math.floor(now / 1000) - (Math.floor(now / 1000) % 86_400);
  const source = { kind: "grant" as const, account: "grant:1", grantId: "1", limit: granted };
  const [other] = await reserveCalls(db, [
    {
      consumer,
      model: "m",
      requestsPerMinute: 1_000_000,
      minuteStart: Math.floor(now / 60_000) * 60,
      epochStart,
      amount: spend,
      sources: [source],
      deferFlush: false,
      record: {
        request_id: "req_other_replica",
        consumer,
        endpoint: "chat.completions",
        model_id: "m",
        admitted: true,
        outcome: "PENDING",
      },
    },
  ]);
  t.ok(other?.ok, "the other replica's call was admitted");
  await settleCalls(db, [
    {
      requestId: "req_other_replica",
      consumer,
      model: "m",
      epochStart,
      source,
      reserved: spend,
      charged: spend,
      outcome: "COMPLETED",
      latencyMs: 1,
      overheadMs: 0,
    },
  ]);

  // Budgets are private: the consumer reads its own with its key.
  const api = createGraphqlClient(service.urls.http, { apiKey: key });
  const { policyStatus } = await api.request(
    adHoc<
      { policyStatus: { budgets: { used: string; reserved: string; left: string }[]; admitted: boolean } },
      { consumer: string }
    >(
      `query($consumer: Address!) { policyStatus(model: "m", consumer: $consumer) { budgets { used reserved left } admitted } }`,
    ),
    { consumer },
  );
  t.match(
    policyStatus,
    { budgets: [{ reserved: "0", left: String(left + slice) }], admitted: true },
    "policyStatus shows what the consumer can spend: the slice counts as left, not as reserved",
  );

  const outcomes: string[] = [];
  while (outcomes.at(-1) !== "BUDGET_EXHAUSTED") outcomes.push(await callOnce());
  t.equal(outcomes.length - 1, Math.floor((left + slice) / c), "every call that fits in what was left is admitted");
  // Once idle, the replica's slices go back: what remains of the grant is less than one call.
  const end = await until(async () => {
    const g = await counter(db, "grant:1");
    return g.reserved === 0 ? g : undefined;
  }, "the slices to go back");
  t.ok(granted - end.used < c, `refused with ${granted - end.used} tokens left, less than a call's ${c}`);
});
