import { type Kysely, sql, type Transaction } from "kysely";
import type { DecisionRecord } from "./gateway-decisions.ts";
import type { Database } from "./schema.ts";

type Db = Kysely<Database> | Transaction<Database>;

/** The account the whole community pool is counted on; one address's allowance is `pool:<address>`. */
export const POOL_TOTAL_ACCOUNT = "pool";

/** A budget to reserve from, as the decision chose it. */
export type ReservationSource =
  | { kind: "grant"; account: string; grantId: string; limit: number }
  | { kind: "pool"; account: string; limit: number; poolLimit: number };

export interface Spending {
  /** used + reserved per account this epoch. */
  spent: Map<string, number>;
  requestsThisMinute: number;
}

/** What `accounts` spent in the epoch, and the consumer's requests on `model` this minute: one query. */
export async function readSpending(
  db: Db,
  q: { accounts: string[]; epochStart: number; consumer: string; model: string; minuteStart: number },
): Promise<Spending> {
  const rows = await db
    .selectFrom("gateway_budget_counters")
    .select(["account", sql<number>`used + reserved`.as("spent")])
    .where("epoch_start", "=", q.epochStart)
    .where("account", "in", q.accounts)
    .unionAll(
      db
        .selectFrom("gateway_rate_counters")
        .select([sql<string>`''`.as("account"), "requests as spent"])
        .where("consumer", "=", q.consumer)
        .where("model_id", "=", q.model)
        .where("minute_start", "=", q.minuteStart),
    )
    .execute();
  const spent = new Map<string, number>();
  let requestsThisMinute = 0;
  for (const row of rows) {
    if (row.account === "") requestsThisMinute = Number(row.spent);
    else spent.set(row.account, Number(row.spent));
  }
  return { spent, requestsThisMinute };
}

export interface ReserveInput {
  consumer: string;
  model: string;
  requestsPerMinute: number;
  minuteStart: number;
  epochStart: number;
  amount: number;
  /** Tried in order; the first with room is charged. */
  sources: readonly ReservationSource[];
  /** The audit record to write with the outcome (admitted or refused), in the same transaction. */
  record: DecisionRecord;
  /**
   * An admission may commit without waiting for the disk: the caller then awaits `flushLedger` before
   * it answers the call. Refusals are always committed synchronously.
   */
  deferFlush: boolean;
}

/** What the guarded rows hold after a reservation or settlement: this replica's view of spending. */
export interface SpendingAfter {
  /** used + reserved per account this epoch (only accounts with a counter row). */
  spent: Map<string, number>;
}

export type ReserveResult = (
  | { ok: true; source: ReservationSource }
  | { ok: false; reason: "RATE_LIMITED" | "BUDGET_EXHAUSTED" }
) &
  SpendingAfter & { requestsThisMinute: number };

const spentMap = (accounts: string[], spent: (string | number)[]) =>
  new Map(accounts.map((account, i) => [account, Number(spent[i])]));

/**
 * The authoritative, race-free half of a decision, in one round trip and one transaction
 * (gateway_admit, migrations/0005, around 0004's gateway_reserve): count the request against the
 * per-minute limit, reserve the worst case from the first source with room, and write the audit
 * record, admitted or refused. Every replica goes through the same guarded rows, so concurrent calls
 * never spend more than granted.
 */
export async function reserveCall(db: Kysely<Database>, input: ReserveInput): Promise<ReserveResult> {
  const sources = input.sources;
  const record = { ...input.record, source_ids: sources.map(sourceId) };
  const { rows } = await sql<{
    outcome: string;
    source_index: number | null;
    requests: string | null;
    accounts: string[];
    spent: string[];
  }>`
    select * from gateway_admit(
      ${input.consumer}, ${input.model}, ${input.minuteStart}, ${input.requestsPerMinute}, ${input.epochStart},
      ${input.amount}, ${sources.map((s) => s.account)}::text[], ${sources.map((s) => s.limit)}::bigint[],
      ${sources.map((s) => (s.kind === "pool" ? s.poolLimit : null))}::bigint[], ${JSON.stringify(record)}::jsonb,
      ${input.deferFlush})`.execute(db);
  const row = rows[0];
  const after = {
    spent: spentMap(row?.accounts ?? [], row?.spent ?? []),
    requestsThisMinute: Number(row?.requests ?? 0),
  };
  if (row?.outcome === "ADMITTED" && row.source_index !== null) {
    return { ok: true, source: sources[row.source_index - 1] as ReservationSource, ...after };
  }
  return { ok: false, reason: row?.outcome === "RATE_LIMITED" ? "RATE_LIMITED" : "BUDGET_EXHAUSTED", ...after };
}

function sourceId(source: ReservationSource): string {
  return source.kind === "grant" ? source.grantId : "";
}

export interface SettleInput {
  requestId: string;
  consumer: string;
  model: string;
  epochStart: number;
  source: ReservationSource;
  reserved: number;
  /** Tokens to charge: the real usage, never above `reserved`; 0 releases the reservation. */
  charged: number;
  outcome: "COMPLETED" | "UPSTREAM_ERROR" | "CLIENT_CLOSED";
  latencyMs: number;
  overheadMs: number;
}

/**
 * Turns a reservation into the real charge in one round trip (gateway_settle_returning): counters, the
 * ledger and the audit record move together, so the ledger always equals the sum of the audit records.
 * Its commit is asynchronous: losing it in a crash only leaves the worst case reserved.
 */
export async function settleCall(db: Kysely<Database>, input: SettleInput): Promise<SpendingAfter> {
  const charged = Math.min(input.charged, input.reserved);
  const accounts = input.source.kind === "grant" ? [input.source.account] : [input.source.account, POOL_TOTAL_ACCOUNT];
  const { rows } = await sql<{ accounts: string[]; spent: string[] }>`select * from gateway_settle_returning(
      ${input.requestId}, ${input.consumer}, ${input.model}, ${input.source.kind}, ${sourceId(input.source)},
      ${accounts}::text[], ${input.epochStart}, ${input.reserved}, ${charged}, ${input.outcome},
      ${input.latencyMs}, ${input.overheadMs})`.execute(db);
  return { spent: spentMap(rows[0]?.accounts ?? [], rows[0]?.spent ?? []) };
}

/**
 * Returns once every transaction committed before the call is on disk (gateway_flush: a synchronous
 * commit, and WAL is flushed in order), whichever connection committed it.
 */
export async function flushLedger(db: Kysely<Database>): Promise<void> {
  await sql`select gateway_flush()`.execute(db);
}

export interface UsageRow {
  consumer: string;
  model: string;
  source: string;
  sourceId: string;
  epochStart: number;
  tokensUsed: number;
  requests: number;
}

/** The ledger of one consumer (optionally one model and one epoch), newest epoch first. */
export async function usageFor(
  db: Kysely<Database>,
  q: { consumer?: string; model?: string; epochStart?: number },
): Promise<UsageRow[]> {
  let query = db.selectFrom("gateway_usage").selectAll();
  if (q.consumer !== undefined) query = query.where("consumer", "=", q.consumer);
  if (q.model !== undefined) query = query.where("model_id", "=", q.model);
  if (q.epochStart !== undefined) query = query.where("epoch_start", "=", q.epochStart);
  const rows = await query.orderBy("epoch_start", "desc").orderBy("model_id").orderBy("source").execute();
  return rows.map((r) => ({
    consumer: r.consumer,
    model: r.model_id,
    source: r.source,
    sourceId: r.source_id,
    epochStart: r.epoch_start,
    tokensUsed: r.tokens_used,
    requests: r.requests,
  }));
}

/** used / reserved / limit of budget accounts in one epoch (for policyStatus: budget used and left). */
export async function budgetCounters(db: Kysely<Database>, q: { accounts: string[]; epochStart: number }) {
  if (q.accounts.length === 0) return [];
  return db
    .selectFrom("gateway_budget_counters")
    .select(["account", "budget_limit as limit", "used", "reserved"])
    .where("epoch_start", "=", q.epochStart)
    .where("account", "in", q.accounts)
    .execute();
}

/** Drops per-minute counters older than `beforeMinute` (they never count again). */
export async function pruneRateCounters(db: Kysely<Database>, beforeMinute: number): Promise<void> {
  await db.deleteFrom("gateway_rate_counters").where("minute_start", "<", beforeMinute).execute();
}
