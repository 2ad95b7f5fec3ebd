import { type Kysely, sql, type Transaction } from "kysely";
import { type DecisionRecord, recordDecision } from "./gateway-decisions.ts";
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

/** Adds `amount` to an account's reservation unless that would take it over `limit`; true when it did. */
async function reserveOn(
  trx: Transaction<Database>,
  account: string,
  epochStart: number,
  limit: number,
  amount: number,
) {
  if (amount > limit) return false;
  const row = await trx
    .insertInto("gateway_budget_counters")
    .values({ account, epoch_start: epochStart, budget_limit: limit, used: 0, reserved: amount })
    .onConflict((oc) =>
      oc
        .columns(["account", "epoch_start"])
        .doUpdateSet({ reserved: sql`gateway_budget_counters.reserved + ${amount}`, budget_limit: limit })
        .where(sql<boolean>`gateway_budget_counters.used + gateway_budget_counters.reserved + ${amount} <= ${limit}`),
    )
    .returning("reserved")
    .executeTakeFirst();
  return row !== undefined;
}

async function unreserve(trx: Transaction<Database>, account: string, epochStart: number, amount: number) {
  await trx
    .updateTable("gateway_budget_counters")
    .set({ reserved: sql`reserved - ${amount}` })
    .where("account", "=", account)
    .where("epoch_start", "=", epochStart)
    .execute();
}

async function reserveFrom(trx: Transaction<Database>, source: ReservationSource, epochStart: number, amount: number) {
  if (source.kind === "grant") return reserveOn(trx, source.account, epochStart, source.limit, amount);
  // The pool needs room both in this address's allowance and in the whole pool.
  if (!(await reserveOn(trx, POOL_TOTAL_ACCOUNT, epochStart, source.poolLimit, amount))) return false;
  if (await reserveOn(trx, source.account, epochStart, source.limit, amount)) return true;
  await unreserve(trx, POOL_TOTAL_ACCOUNT, epochStart, amount);
  return false;
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
}

export type ReserveResult =
  | { ok: true; source: ReservationSource }
  | { ok: false; reason: "RATE_LIMITED" | "BUDGET_EXHAUSTED" };

/**
 * The authoritative, race-free half of a decision, in one transaction: count the request against the
 * per-minute limit, reserve the worst case from the first source with room, and write the audit record.
 * Every replica goes through the same guarded rows, so concurrent calls never spend more than granted.
 */
export async function reserveCall(db: Kysely<Database>, input: ReserveInput): Promise<ReserveResult> {
  return db.transaction().execute(async (trx) => {
    const counted = await trx
      .insertInto("gateway_rate_counters")
      .values({ consumer: input.consumer, model_id: input.model, minute_start: input.minuteStart, requests: 1 })
      .onConflict((oc) =>
        oc
          .columns(["consumer", "model_id", "minute_start"])
          .doUpdateSet({ requests: sql`gateway_rate_counters.requests + 1` })
          .where("gateway_rate_counters.requests", "<", input.requestsPerMinute),
      )
      .returning("requests")
      .executeTakeFirst();
    let result: ReserveResult = { ok: false, reason: "RATE_LIMITED" };
    if (counted !== undefined) {
      result = { ok: false, reason: "BUDGET_EXHAUSTED" };
      for (const source of input.sources) {
        if (await reserveFrom(trx, source, input.epochStart, input.amount)) {
          result = { ok: true, source };
          break;
        }
      }
    }
    await recordDecision(
      trx,
      result.ok
        ? { ...input.record, source: result.source.kind, source_id: sourceId(result.source) }
        : { ...input.record, admitted: false, reason_code: result.reason, tokens_reserved: 0, outcome: "REFUSED" },
    );
    return result;
  });
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
 * Turns a reservation into the real charge in one transaction: counters, the ledger and the audit
 * record move together, so the ledger always equals the sum of the audit records.
 */
export async function settleCall(db: Kysely<Database>, input: SettleInput): Promise<void> {
  const charged = Math.min(input.charged, input.reserved);
  const accounts = input.source.kind === "grant" ? [input.source.account] : [input.source.account, POOL_TOTAL_ACCOUNT];
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable("gateway_budget_counters")
      .set({ reserved: sql`reserved - ${input.reserved}`, used: sql`used + ${charged}` })
      .where("account", "in", accounts)
      .where("epoch_start", "=", input.epochStart)
      .execute();
    await trx
      .insertInto("gateway_usage")
      .values({
        consumer: input.consumer,
        model_id: input.model,
        source: input.source.kind,
        source_id: sourceId(input.source),
        epoch_start: input.epochStart,
        tokens_used: charged,
        requests: 1,
      })
      .onConflict((oc) =>
        oc.columns(["consumer", "model_id", "source", "source_id", "epoch_start"]).doUpdateSet({
          tokens_used: sql`gateway_usage.tokens_used + ${charged}`,
          requests: sql`gateway_usage.requests + 1`,
        }),
      )
      .execute();
    await trx
      .updateTable("gateway_decisions")
      .set({
        tokens_used: charged,
        outcome: input.outcome,
        reason_code: input.outcome === "UPSTREAM_ERROR" ? "UPSTREAM_ERROR" : null,
        latency_ms: input.latencyMs,
        overhead_ms: input.overheadMs,
        settled_at: new Date(),
      })
      .where("request_id", "=", input.requestId)
      .execute();
  });
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
