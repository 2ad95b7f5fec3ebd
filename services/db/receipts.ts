import { type Kysely, type Selectable, sql } from "kysely";
import type { AuditRecord } from "../receipts/encoding.ts";
import type { PeriodTotals, UsagePeriodsTable } from "./receipt-tables.ts";
import type { Database } from "./schema.ts";

export type PeriodRow = Selectable<UsagePeriodsTable>;

/** The instant a record belongs to a period by: its settlement, or its decision for a refusal (never settled). */
const receiptInstant = sql<Date>`coalesce(settled_at, created_at)`;

const auditColumns = [
  "request_id",
  "consumer",
  "model_id",
  "policy_version",
  "proposal_id",
  "admitted",
  "reason_code",
  "outcome",
  "prompt_tokens",
  "completion_tokens",
  "tokens_used",
  "source",
  "source_id",
  "epoch_start",
  "decided_at",
  "created_at",
  "settled_at",
  "request_hash",
  "response_hash",
  "receipt_salt",
] as const;

/** The settled audit records of [startsAt, endsAt): a period's receipts (index gateway_decisions_receipt_idx). */
export function periodRecords(db: Kysely<Database>, startsAt: Date, endsAt: Date): Promise<AuditRecord[]> {
  return db
    .selectFrom("gateway_decisions")
    .select(auditColumns)
    .where("outcome", "<>", "PENDING")
    .where(receiptInstant, ">=", startsAt)
    .where(receiptInstant, "<", endsAt)
    .orderBy(receiptInstant)
    .orderBy("request_id")
    .execute();
}

/**
 * The settled audit record of one call, with the instant that places it in a period; undefined: none yet.
 * Private: the API gives it to its consumer and to operators only.
 */
export async function receiptRecord(
  db: Kysely<Database>,
  requestId: string,
): Promise<(AuditRecord & { instant: Date }) | undefined> {
  return db
    .selectFrom("gateway_decisions")
    .select(auditColumns)
    .select(receiptInstant.as("instant"))
    .where("request_id", "=", requestId)
    .where("outcome", "<>", "PENDING")
    .executeTakeFirst();
}

/** Settled records newest first (optionally one consumer's), `first` at a time after a (instant, request id) cursor. */
export async function listReceiptRecords(
  db: Kysely<Database>,
  filter: { consumer?: string },
  page: { first: number; after?: { instant: Date; requestId: string } },
): Promise<(AuditRecord & { instant: Date })[]> {
  let query = db
    .selectFrom("gateway_decisions")
    .select(auditColumns)
    .select(receiptInstant.as("instant"))
    .where("outcome", "<>", "PENDING");
  if (filter.consumer !== undefined) query = query.where("consumer", "=", filter.consumer);
  const after = page.after;
  if (after !== undefined) {
    query = query.where(sql<boolean>`(${receiptInstant}, request_id) < (${after.instant}, ${after.requestId})`);
  }
  return query.orderBy(receiptInstant, "desc").orderBy("request_id", "desc").limit(page.first).execute();
}

/** When the first receipt was settled: where anchoring starts on a database that never anchored. */
export async function firstReceiptInstant(db: Kysely<Database>): Promise<Date | null> {
  const row = await db
    .selectFrom("gateway_decisions")
    .select(sql<Date | null>`min(coalesce(settled_at, created_at))`.as("first"))
    .where("outcome", "<>", "PENDING")
    .executeTakeFirst();
  return row?.first ?? null;
}

export async function latestPeriod(db: Kysely<Database>): Promise<number | null> {
  const row = await db
    .selectFrom("usage_periods")
    .select(sql<string | null>`max(period)`.as("last"))
    .executeTakeFirst();
  return row?.last === null || row?.last === undefined ? null : Number(row.last);
}

export interface BuiltPeriod {
  period: number;
  startsAt: Date;
  endsAt: Date;
  root: string;
  count: number;
  totalTokens: bigint;
  nodes: Uint8Array;
  totals: PeriodTotals;
  uri: string;
  /** The receipt encoding the tree was built with (RECEIPT_FORMAT). */
  format: number;
}

/** Stores a period's tree before anything is sent; a period stored already is kept as it is. */
export async function insertBuiltPeriod(db: Kysely<Database>, p: BuiltPeriod): Promise<void> {
  await db
    .insertInto("usage_periods")
    .values({
      period: p.period,
      starts_at: p.startsAt,
      ends_at: p.endsAt,
      root: p.root,
      receipt_count: p.count,
      total_tokens: p.totalTokens,
      nodes: p.nodes,
      totals: JSON.stringify(p.totals),
      uri: p.uri,
      state: "built",
      format: p.format,
    })
    .onConflict((oc) => oc.column("period").doNothing())
    .execute();
}

export async function periodRow(db: Kysely<Database>, period: number): Promise<PeriodRow | undefined> {
  return db.selectFrom("usage_periods").selectAll().where("period", "=", period).executeTakeFirst();
}

/** Periods not anchored yet, oldest first, and anchored ones whose block may still be reorganised away. */
export async function periodsToWatch(db: Kysely<Database>, sinceBlock: number): Promise<PeriodRow[]> {
  return db
    .selectFrom("usage_periods")
    .selectAll()
    .where((eb) => eb.or([eb("state", "<>", "anchored"), eb("block_number", ">=", sinceBlock)]))
    .orderBy("period")
    .execute();
}

type PeriodChange = Partial<
  Pick<PeriodRow, "state" | "tx_hash" | "tx_nonce" | "tx_raw" | "block_number" | "block_hash" | "anchored_at">
>;

export async function updatePeriod(db: Kysely<Database>, period: number, change: PeriodChange): Promise<void> {
  await db.updateTable("usage_periods").set(change).where("period", "=", period).execute();
}

/** Anchored periods, newest first, without their trees. */
export async function anchoredPeriods(db: Kysely<Database>, page: { first: number; before?: number }) {
  let query = db
    .selectFrom("usage_periods")
    .select([
      "period",
      "starts_at",
      "ends_at",
      "root",
      "receipt_count",
      "total_tokens",
      "totals",
      "uri",
      "state",
      "tx_hash",
      "block_number",
      "anchored_at",
    ])
    .where("state", "=", "anchored");
  if (page.before !== undefined) query = query.where("period", "<", page.before);
  return query.orderBy("period", "desc").limit(page.first).execute();
}
