import t from "tap";
import { recordDecision } from "../../services/db/gateway-decisions.ts";
import {
  type ReservationSource,
  type ReserveInput,
  reserveCalls,
  settleCalls,
} from "../../services/db/ledger/client.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { openMigrated } from "../../services/devkit/gateway.ts";

/**
 * A replay needs each record's prompt estimate, max_tokens and decision clock (migration 0016). The
 * record reaches Postgres by five roads: a refusal written directly, a reservation alone or in a batch
 * (admitted or refused by the guard), a leased call's record settled alone or in a batch. Each keeps them.
 */
const database = await openMigrated(t, await createTestDatabase(t));
const { db } = database;
const decidedAt = new Date("2027-01-01T00:00:30.123Z");
const inputs = (i: number) => ({
  prompt_tokens: 100 + i,
  max_tokens: i % 2 === 0 ? null : 10 + i,
  decided_at: decidedAt,
});
const base = (i: number) => ({
  request_id: `req_${i}`,
  consumer: "0xA",
  endpoint: "chat.completions",
  model_id: "m1",
  policy_version: 1,
  ...inputs(i),
});
const grant: ReservationSource = { kind: "grant", account: "grant:1", grantId: "1", limit: 1_000 };
const reserve = (i: number, amount: number): ReserveInput => ({
  consumer: "0xA",
  model: "m1",
  requestsPerMinute: 100,
  minuteStart: 60,
  epochStart: 0,
  amount,
  sources: [grant],
  deferFlush: false,
  record: { ...base(i), admitted: true, outcome: "PENDING" },
});

t.test("every road an audit record takes keeps what a replay needs", async (t) => {
  await recordDecision(db, { ...base(0), admitted: false, reason_code: "MODEL_NOT_APPROVED", outcome: "REFUSED" });
  await reserveCalls(db, [reserve(1, 50)]);
  await reserveCalls(db, [reserve(2, 50), reserve(3, 5_000)]);
  const leased = (i: number) => ({
    requestId: `req_${i}`,
    consumer: "0xA",
    model: "m1",
    epochStart: 0,
    source: grant,
    reserved: 20,
    charged: 20,
    outcome: "COMPLETED" as const,
    latencyMs: 3,
    overheadMs: 1,
    record: {
      ...base(i),
      admitted: true,
      outcome: "PENDING" as const,
      source: "grant",
      source_id: "1",
      epoch_start: 0,
      tokens_reserved: 40,
    },
  });
  await settleCalls(db, [leased(4)]);
  await settleCalls(db, [leased(5), leased(6)]);

  const rows = await db
    .selectFrom("gateway_decisions")
    .select(["request_id", "outcome", "prompt_tokens", "max_tokens", "decided_at"])
    .orderBy("request_id")
    .execute();
  t.same(
    rows.map((r) => [r.request_id, r.outcome]),
    [
      ["req_0", "REFUSED"],
      ["req_1", "PENDING"],
      ["req_2", "PENDING"],
      ["req_3", "REFUSED"],
      ["req_4", "COMPLETED"],
      ["req_5", "COMPLETED"],
      ["req_6", "COMPLETED"],
    ],
    "each road was taken (req_3 refused by the guard)",
  );
  for (const [i, row] of rows.entries()) {
    t.same(
      { prompt_tokens: row.prompt_tokens, max_tokens: row.max_tokens, decided_at: row.decided_at },
      inputs(i),
      row.request_id,
    );
  }
});
