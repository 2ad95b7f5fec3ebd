import fc from "fast-check";
import { sql } from "kysely";
import t, { type Test } from "tap";
import { type DatabaseHandle, openDatabase } from "../../services/db/connection.ts";
import { allowanceAccount, grantAccount } from "../../services/db/ledger/accounts.ts";
import {
  type ReservationSource,
  type ReserveInput,
  type ReserveResult,
  reserveCalls,
  type SettleInput,
  settleCalls,
  sweepLedger,
} from "../../services/db/ledger/client.ts";
import { takeSlice } from "../../services/db/ledger/leases.ts";
import { migrateToLatest } from "../../services/db/migrate.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { openMigrated } from "../../services/devkit/gateway.ts";
import { decide } from "../../services/policy/decide.ts";
import { nowArb, requestArb, snapshotArb, usageArb } from "../policy/fixtures.ts";

const CONSUMERS = ["0xA", "0xB"] as const;
const MODELS = ["m1", "m2"] as const;

/** Budgets fixed for one history: two grants per consumer, a per-address pool allowance and the pool. */
const budgetsArb = fc.record({
  grant: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 4, maxLength: 4 }),
  allowance: fc.integer({ min: 0, max: 60 }),
  pool: fc.integer({ min: 0, max: 100 }),
});

const callArb = fc.record({
  consumer: fc.integer({ min: 0, max: 1 }),
  model: fc.integer({ min: 0, max: 1 }),
  epoch: fc.constantFrom(0, 86_400),
  rpm: fc.integer({ min: 1, max: 4 }),
  amount: fc.integer({ min: 1, max: 40 }),
  // Which budgets the decision offered, in its spending order.
  sources: fc.uniqueArray(fc.constantFrom("grant1", "grant2", "pool"), { maxLength: 3 }),
  defer: fc.boolean(),
  settle: fc.record({
    charged: fc.integer({ min: 0, max: 40 }),
    outcome: fc.constantFrom("COMPLETED" as const, "UPSTREAM_ERROR" as const, "CLIENT_CLOSED" as const),
  }),
});

type Budgets = typeof budgetsArb extends fc.Arbitrary<infer B> ? B : never;
type Call = typeof callArb extends fc.Arbitrary<infer C> ? C : never;

function reserveInput(budgets: Budgets, call: Call, i: number): ReserveInput {
  const consumer = CONSUMERS[call.consumer] as string;
  const model = MODELS[call.model] as string;
  const sources = call.sources.map((s): ReservationSource => {
    if (s === "pool") {
      return { kind: "pool", account: `pool:${consumer}`, limit: budgets.allowance, poolLimit: budgets.pool };
    }
    const g = s === "grant1" ? 1 : 2;
    const grantId = String(call.consumer * 2 + g);
    return { kind: "grant", account: `grant:${grantId}`, grantId, limit: budgets.grant[Number(grantId) - 1] as number };
  });
  return {
    consumer,
    model,
    requestsPerMinute: call.rpm,
    minuteStart: 60,
    epochStart: call.epoch,
    amount: call.amount,
    sources,
    deferFlush: call.defer,
    record: {
      request_id: `req_${i}`,
      consumer,
      endpoint: "chat.completions",
      model_id: model,
      admitted: true,
      outcome: "PENDING",
      policy_version: 1,
    },
  };
}

function settleInputs(calls: Call[], inputs: ReserveInput[], results: ReserveResult[]): SettleInput[] {
  return results.flatMap((result, i) => {
    if (!result.ok) return [];
    const input = inputs[i] as ReserveInput;
    const { charged, outcome } = (calls[i] as Call).settle;
    return [
      {
        requestId: input.record.request_id,
        consumer: input.consumer,
        model: input.model,
        epochStart: input.epochStart,
        source: result.source,
        reserved: input.amount,
        charged: outcome === "COMPLETED" ? charged : outcome === "UPSTREAM_ERROR" ? 0 : Math.min(charged, 5),
        outcome,
        latencyMs: 1,
        overheadMs: 0.5,
      },
    ];
  });
}

/** Everything the ledger holds, in a canonical order (rows that hold nothing are left out). */
async function ledgerState(database: DatabaseHandle) {
  const { db } = database;
  return {
    budgets: await db
      .selectFrom("gateway_budget_counters")
      .select(["account", "epoch_start", "used", "reserved"])
      .where((eb) => eb.or([eb("used", "<>", 0), eb("reserved", "<>", 0)]))
      .orderBy("account")
      .orderBy("epoch_start")
      .execute(),
    rates: await db
      .selectFrom("gateway_rate_counters")
      .selectAll()
      .where("requests", "<>", 0)
      .orderBy("consumer")
      .orderBy("model_id")
      .execute(),
    usage: await db
      .selectFrom("gateway_usage")
      .selectAll()
      .orderBy("consumer")
      .orderBy("model_id")
      .orderBy("source")
      .orderBy("source_id")
      .orderBy("epoch_start")
      .execute(),
    decisions: await db
      .selectFrom("gateway_decisions")
      .select([
        "request_id",
        "admitted",
        "reason_code",
        "source",
        "source_id",
        "epoch_start",
        "tokens_reserved",
        "tokens_used",
        "outcome",
      ])
      .orderBy("request_id")
      .execute(),
  };
}

const outcomeOf = (r: ReserveResult) => (r.ok ? `ADMITTED ${r.source.account}` : r.reason);

async function reset(database: DatabaseHandle) {
  await sql`truncate gateway_budget_counters, gateway_rate_counters, gateway_usage, gateway_decisions`.execute(
    database.db,
  );
}

/** Real Postgres, and PGlite (the embedded default, one connection) with fewer histories. */
const databases: [string, (t: Test) => Promise<DatabaseHandle>, number][] = [
  ["Postgres", async (t) => openMigrated(t, await createTestDatabase(t), 2), 60],
  [
    "PGlite",
    async (t) => {
      const database = await openDatabase({});
      t.teardown(() => database.close());
      await migrateToLatest(database.db);
      return database;
    },
    15,
  ],
];

for (const [name, open, numRuns] of databases) {
  t.test(
    `${name}: a batch decides, reserves, settles and audits exactly as its calls one at a time, in order`,
    async (t) => {
      const database = await open(t);
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(budgetsArb, fc.array(callArb, { minLength: 2, maxLength: 12 }), async (budgets, calls) => {
          const inputs = calls.map((call, i) => reserveInput(budgets, call, i));

          await reset(database);
          const alone: ReserveResult[] = [];
          for (const input of inputs) alone.push(...(await reserveCalls(database.db, [input])));
          for (const settlement of settleInputs(calls, inputs, alone)) await settleCalls(database.db, [settlement]);
          const aloneState = await ledgerState(database);

          await reset(database);
          const together = await reserveCalls(database.db, inputs);
          const settlements = settleInputs(calls, inputs, together);
          if (settlements.length > 0) await settleCalls(database.db, settlements);
          const togetherState = await ledgerState(database);

          t.same(together.map(outcomeOf), alone.map(outcomeOf), "same outcome for every call");
          t.same(togetherState, aloneState, "same counters, ledger and audit records");
          runs++;
        }),
        { numRuns },
      );
      t.equal(runs, numRuns);
    },
  );

  t.test(`${name}: calls admitted on slices settle in a batch exactly as one at a time`, async (t) => {
    const database = await open(t);
    const { db } = database;
    const leasedArb = fc.record({
      consumer: fc.integer({ min: 0, max: 1 }),
      charged: fc.integer({ min: 0, max: 40 }),
      outcome: fc.constantFrom("COMPLETED" as const, "UPSTREAM_ERROR" as const, "CLIENT_CLOSED" as const),
      // A lease the sweeper reclaimed before the settlement came: its reservation went back already.
      reclaimed: fc.boolean(),
    });
    const owner = (consumer: number, reclaimed: boolean) => `replica${consumer}#${reclaimed ? 1 : 0}`;
    type Leased = typeof leasedArb extends fc.Arbitrary<infer L> ? L : never;
    const settlement = (c: Leased, i: number): SettleInput => {
      const consumer = CONSUMERS[c.consumer] as string;
      const grant = String(c.consumer + 1);
      return {
        requestId: `req_${i}`,
        consumer,
        model: "m1",
        epochStart: 0,
        source: { kind: "grant", account: `grant:${grant}`, grantId: grant, limit: 100_000 },
        reserved: c.charged,
        charged: c.charged,
        outcome: c.outcome,
        latencyMs: 1,
        overheadMs: 1,
        lease: { owner: owner(c.consumer, c.reclaimed), minuteStart: 60 },
        record: {
          request_id: `req_${i}`,
          consumer,
          endpoint: "chat.completions",
          model_id: "m1",
          admitted: true,
          outcome: "PENDING",
          source: "grant",
          source_id: grant,
          epoch_start: 0,
          tokens_reserved: 40,
          created_at: new Date("2026-01-02T03:04:05Z"),
        },
      };
    };
    const leases = () =>
      db
        .selectFrom("gateway_leases")
        .select(["owner", "account", "tokens", "requests"])
        .orderBy("owner")
        .orderBy("account")
        .execute();
    /** Both consumers hold a live slice; the `#1` leases were taken and then reclaimed by the sweeper. */
    const leaseAll = async () => {
      await reset(database);
      await sql`delete from gateway_leases`.execute(db);
      for (const consumer of [0, 1]) {
        for (const reclaimed of [true, false]) {
          const key = {
            consumer: CONSUMERS[consumer] as string,
            model: "m1",
            minuteStart: 60,
            requestsPerMinute: 1_000,
            account: `grant:${consumer + 1}`,
            epochStart: 0,
            limit: 100_000,
          };
          await takeSlice(db, { owner: owner(consumer, reclaimed), expiresInMs: reclaimed ? -1 : 60_000 }, key, {
            minRequests: 1,
            maxRequests: 100,
            minTokens: 1,
            maxTokens: 4_000,
          });
        }
      }
      await sweepLedger(db, 60_000);
    };
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(leasedArb, { minLength: 2, maxLength: 10 }), async (calls) => {
        const settlements = calls.map(settlement);
        await leaseAll();
        for (const one of settlements) await settleCalls(db, [one]);
        const alone = { state: await ledgerState(database), leases: await leases() };
        await leaseAll();
        await settleCalls(db, settlements);
        const together = { state: await ledgerState(database), leases: await leases() };
        t.same(together, alone, "same counters, ledger, audit records and leases");
        await settleCalls(db, settlements);
        t.same({ state: await ledgerState(database), leases: await leases() }, together, "sent again: no change");
        runs++;
      }),
      { numRuns: numRuns / 3 },
    );
    t.equal(runs, numRuns / 3);
  });

  t.test(
    `${name}: a settlement that carries its audit record (a call admitted on a slice) inserts it settled`,
    async (t) => {
      const database = await open(t);
      const { db } = database;
      const key = { consumer: "0xA", model: "m1", minuteStart: 60, requestsPerMinute: 1_000 };
      const grant = { account: "grant:1", epochStart: 0, limit: 8_000 };
      const lease = { owner: "replica#0", expiresInMs: 60_000 };
      const slice = await takeSlice(
        db,
        lease,
        { ...key, ...grant },
        { minRequests: 1, maxRequests: 100, minTokens: 1, maxTokens: 800 },
      );
      t.same(slice, { requests: 100, tokens: 800 }, "the slice these calls were admitted on");
      const source: ReservationSource = { kind: "grant", account: "grant:1", grantId: "1", limit: 8_000 };
      const admittedAt = new Date("2026-01-02T03:04:05Z");
      const leased = (i: number, charged: number, outcome: SettleInput["outcome"]): SettleInput => ({
        requestId: `req_${i}`,
        consumer: "0xA",
        model: "m1",
        epochStart: 0,
        source,
        reserved: charged,
        charged,
        outcome,
        latencyMs: 3,
        overheadMs: 1,
        lease: { owner: lease.owner, minuteStart: key.minuteStart },
        record: {
          request_id: `req_${i}`,
          consumer: "0xA",
          endpoint: "chat.completions",
          model_id: "m1",
          admitted: true,
          outcome: "PENDING",
          policy_version: 1,
          source: "grant",
          source_id: "1",
          epoch_start: 0,
          tokens_reserved: 40,
          created_at: admittedAt,
        },
      });
      // One alone (gateway_settle), then two together (gateway_settle_batch).
      await settleCalls(db, [leased(1, 25, "COMPLETED")]);
      await settleCalls(db, [leased(2, 0, "UPSTREAM_ERROR"), leased(3, 10, "CLIENT_CLOSED")]);

      const state = await ledgerState(database);
      const settled = { admitted: true, source: "grant", source_id: "1", epoch_start: 0, tokens_reserved: 40 };
      t.same(state.decisions, [
        { ...settled, request_id: "req_1", reason_code: null, tokens_used: 25, outcome: "COMPLETED" },
        { ...settled, request_id: "req_2", reason_code: "UPSTREAM_ERROR", tokens_used: 0, outcome: "UPSTREAM_ERROR" },
        { ...settled, request_id: "req_3", reason_code: null, tokens_used: 10, outcome: "CLIENT_CLOSED" },
      ]);
      t.same(
        state.budgets,
        [{ account: "grant:1", epoch_start: 0, used: 35, reserved: 800 - 35 }],
        "charged from the slice; the rest of the slice stays reserved for this replica",
      );
      t.same(
        state.usage.map((u) => [u.tokens_used, u.requests]),
        [[35, 3]],
        "the ledger equals the sum of the audit records",
      );
      t.same(
        await db.selectFrom("gateway_leases").select(["account", "tokens", "requests"]).orderBy("account").execute(),
        [
          { account: "", tokens: 0, requests: 100 - 3 },
          { account: "grant:1", tokens: 800 - 35, requests: 0 },
        ],
        "the lease no longer holds what its calls took: the sweeper would reclaim only the rest",
      );
      await settleCalls(db, [leased(1, 25, "COMPLETED")]);
      t.same(await ledgerState(database), state, "a settlement sent again (its answer lost) changes nothing");
      const times = await db.selectFrom("gateway_decisions").select(["created_at", "settled_at"]).execute();
      t.ok(
        times.every((r) => r.created_at.getTime() === admittedAt.getTime() && r.settled_at !== null),
        "created when admitted, settled when written",
      );
    },
  );
}

for (const [name, open] of databases) {
  t.test(`${name}: a record whose settlement never came is swept: charged its worst case, SWEPT`, async (t) => {
    const database = await open(t);
    const { db } = database;
    const budgets = { grant: [100, 0, 0, 0], allowance: 50, pool: 1_000 };
    const call = (sources: Call["sources"]): Call => ({
      consumer: 0,
      model: 0,
      epoch: 0,
      rpm: 4,
      amount: 30,
      sources,
      defer: false,
      settle: { charged: 10, outcome: "COMPLETED" },
    });
    const calls = [call(["grant1"]), call(["pool"]), call(["grant1"])];
    const inputs = calls.map((c, i) => reserveInput(budgets, c, i));
    const results = await reserveCalls(db, inputs);
    t.same(results.map(outcomeOf), ["ADMITTED grant:1", "ADMITTED pool:0xA", "ADMITTED grant:1"]);
    // The third call is settled; the first two never will be (their replica died).
    const [settled] = settleInputs(calls, inputs, results).slice(2);
    await settleCalls(db, [settled as SettleInput]);

    t.same(await sweepLedger(db, 60_000), { leases: 0, records: 0 }, "nothing is swept before its time");
    t.same(await sweepLedger(db, 0), { leases: 0, records: 2 });
    const state = await ledgerState(database);
    t.same(
      state.decisions.map((d) => [d.request_id, d.outcome, d.tokens_used]),
      [
        ["req_0", "SWEPT", 30],
        ["req_1", "SWEPT", 30],
        ["req_2", "COMPLETED", 10],
      ],
    );
    t.same(
      state.budgets,
      [
        { account: "grant:1", epoch_start: 0, used: 40, reserved: 0 },
        { account: "pool", epoch_start: 0, used: 30, reserved: 0 },
        { account: "pool:0xA", epoch_start: 0, used: 30, reserved: 0 },
      ],
      "nothing stays reserved",
    );
    t.same(
      state.usage.map((u) => [u.source, u.tokens_used, u.requests]),
      [
        ["grant", 40, 2],
        ["pool", 30, 1],
      ],
      "the ledger equals the sum of the audit records",
    );
    const late = settleInputs(calls, inputs, results)[0] as SettleInput;
    await settleCalls(db, [late]);
    t.same(await ledgerState(database), state, "a settlement that comes after the sweep changes nothing");
  });
}

t.test("a batch's answers: the source charged and what the guarded rows hold after it", async (t) => {
  const database = await openMigrated(t, await createTestDatabase(t), 2);
  const budgets = { grant: [50, 0, 0, 0], allowance: 30, pool: 1_000 };
  const call: Call = {
    consumer: 0,
    model: 0,
    epoch: 0,
    rpm: 3,
    amount: 20,
    sources: ["grant1", "pool"],
    defer: true,
    settle: { charged: 20, outcome: "COMPLETED" },
  };
  const inputs = [0, 1, 2, 3].map((i) => reserveInput(budgets, call, i));
  const results = await reserveCalls(database.db, inputs);
  t.same(results.map(outcomeOf), ["ADMITTED grant:1", "ADMITTED grant:1", "ADMITTED pool:0xA", "RATE_LIMITED"]);
  t.equal(results[0]?.requestsThisMinute, 3, "the rate counter after the whole batch");
  t.same(
    Object.fromEntries(results[2]?.spent ?? []),
    { "grant:1": 40, "pool:0xA": 20, pool: 20 },
    "each answer names the spending of its own budgets",
  );
  const decisions = await database.db
    .selectFrom("gateway_decisions")
    .select(["request_id", "source", "source_id", "tokens_reserved", "outcome", "reason_code"])
    .orderBy("request_id")
    .execute();
  t.same(decisions, [
    {
      request_id: "req_0",
      source: "grant",
      source_id: "1",
      tokens_reserved: 20,
      outcome: "PENDING",
      reason_code: null,
    },
    {
      request_id: "req_1",
      source: "grant",
      source_id: "1",
      tokens_reserved: 20,
      outcome: "PENDING",
      reason_code: null,
    },
    { request_id: "req_2", source: "pool", source_id: "", tokens_reserved: 20, outcome: "PENDING", reason_code: null },
    {
      request_id: "req_3",
      source: null,
      source_id: null,
      tokens_reserved: 0,
      outcome: "REFUSED",
      reason_code: "RATE_LIMITED",
    },
  ]);
});

t.test("the pure policy names budget accounts as the ledger does", async (t) => {
  let admitted = 0;
  fc.assert(
    fc.property(snapshotArb, requestArb, usageArb, nowArb, (snapshot, request, usage, now) => {
      const decision = decide(snapshot, request, usage, now);
      if (!decision.admitted) return;
      admitted++;
      for (const source of decision.sources) {
        t.equal(
          source.account,
          source.kind === "grant" ? grantAccount(source.grantId) : allowanceAccount(request.consumer as string),
        );
      }
    }),
    { numRuns: 500 },
  );
  t.ok(admitted > 0, `${admitted} admitted decisions checked`);
});
