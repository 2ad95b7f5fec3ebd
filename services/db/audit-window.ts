import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** Rows per page: large enough that a round trip is a small share of a page, small enough to stream. */
export const AUDIT_PAGE_SIZE = 10_000;

/** One audit record with what a replay of it reads (services/policy/replay.ts AuditedCall). */
export interface AuditWindowRow {
  /** The clock the decision used (decided_at, else created_at), Unix milliseconds. */
  decidedAtMs: number;
  consumer: string | null;
  modelId: string;
  purpose: string | null;
  /** Null in records older than migration 0016. */
  promptTokens: number | null;
  maxTokens: number | null;
  admitted: boolean;
  reasonCode: string | null;
  policyVersion: number | null;
  tokensUsed: number;
  /** Keyset position: created_at as text (microseconds intact) and id. */
  cursorAt: string;
  id: number;
}

/**
 * The audit records made in [since, until), in the order they were made (created_at, id), a page at a
 * time: a replay of millions of records holds one page in memory. Each page is one indexed keyset query
 * (migrations/0016's index), so a page costs the same wherever it falls in the window.
 */
export async function* auditWindow(
  db: Kysely<Database>,
  window: { since: Date; until: Date },
  pageSize = AUDIT_PAGE_SIZE,
): AsyncGenerator<AuditWindowRow[]> {
  let after: { at: string; id: number } | null = null;
  for (;;) {
    const position = after;
    const rows = (await db
      .selectFrom("gateway_decisions")
      .select([
        sql<number>`(extract(epoch from coalesce(decided_at, created_at)) * 1000)::float8`.as("decidedAtMs"),
        "consumer",
        "model_id as modelId",
        "purpose",
        "prompt_tokens as promptTokens",
        "max_tokens as maxTokens",
        "admitted",
        "reason_code as reasonCode",
        "policy_version as policyVersion",
        "tokens_used as tokensUsed",
        sql<string>`created_at::text`.as("cursorAt"),
        "id",
      ])
      .where("created_at", ">=", window.since)
      .where("created_at", "<", window.until)
      .$if(position !== null, (q) =>
        q.where(sql<boolean>`(created_at, id) > (${position?.at}::timestamptz, ${position?.id})`),
      )
      .orderBy("created_at")
      .orderBy("id")
      .limit(pageSize)
      .execute()) as unknown as AuditWindowRow[];
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1] as AuditWindowRow;
    after = { at: last.cursorAt, id: last.id };
  }
}
