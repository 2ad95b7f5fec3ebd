import type { Insertable, Kysely, Selectable, Transaction } from "kysely";
import type { GatewayDecisionsTable } from "./gateway-tables.ts";
import type { Database } from "./schema.ts";

export type DecisionRecord = Insertable<GatewayDecisionsTable>;
export type DecisionRow = Selectable<GatewayDecisionsTable>;

/** Writes audit records (one statement, synchronous commit); awaited before their calls are answered. */
export async function recordDecision(
  db: Kysely<Database> | Transaction<Database>,
  records: DecisionRecord | DecisionRecord[],
) {
  await db.insertInto("gateway_decisions").values(records).execute();
}

export interface DecisionFilter {
  consumer?: string;
  model?: string;
  admitted?: boolean;
  reasonCode?: string;
  /** Only decisions made at or after this time. */
  since?: Date;
  until?: Date;
}

export interface DecisionPage {
  first: number;
  /** Cursor: the `id` of the last decision of the previous page. */
  after?: string;
}

/** Decisions newest first, `first` at a time, with whether more follow. */
export async function listDecisions(
  db: Kysely<Database>,
  filter: DecisionFilter,
  page: DecisionPage,
): Promise<{ rows: DecisionRow[]; hasMore: boolean }> {
  let query = db.selectFrom("gateway_decisions").selectAll();
  if (filter.consumer !== undefined) query = query.where("consumer", "=", filter.consumer);
  if (filter.model !== undefined) query = query.where("model_id", "=", filter.model);
  if (filter.admitted !== undefined) query = query.where("admitted", "=", filter.admitted);
  if (filter.reasonCode !== undefined) query = query.where("reason_code", "=", filter.reasonCode);
  if (filter.since !== undefined) query = query.where("created_at", ">=", filter.since);
  if (filter.until !== undefined) query = query.where("created_at", "<", filter.until);
  if (page.after !== undefined) query = query.where("id", "<", page.after);
  const rows = await query
    .orderBy("id", "desc")
    .limit(page.first + 1)
    .execute();
  return { rows: rows.slice(0, page.first), hasMore: rows.length > page.first };
}
