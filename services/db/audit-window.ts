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
  /** Lowercased, as decided. */
  purpose: string | null;
  /** The prompt estimate; null in records older than migration 0016 (such a call cannot be replayed). */
  promptTokens: number | null;
  /** max_tokens as asked; null when none was. */
  maxTokens: number | null;
  /** Completions asked for (OpenAI's `n`); null: one. */
  choices: number | null;
  /** The voting power the pool's rule was judged on, at the start of epoch `poolEpochStart`; null: none loaded. */
  poolEpochStart: number | null;
  poolVotes: string | null;
  admitted: boolean;
  reasonCode: string | null;
  policyVersion: number | null;
  tokensUsed: number;
  id: number;
}

/** `after`: the id of the previous page's last row, the keyset position (with its created_at, read in SQL). */
function page(db: Kysely<Database>, window: { since: Date; until: Date }, after: number | null, size: number) {
  return (
    db
      .selectFrom("gateway_decisions")
      .select([
        // Double precision arithmetic (date_part), not numeric: the cheapest exact-to-the-millisecond form.
        sql<number>`(date_part('epoch', coalesce(decided_at, created_at)) * 1000)::int8`.as("decidedAtMs"),
        "consumer",
        "model_id as modelId",
        "purpose",
        "prompt_tokens as promptTokens",
        "max_tokens as maxTokens",
        "choices",
        sql<number | null>`pool_epoch_start::float8`.as("poolEpochStart"),
        sql<string | null>`pool_votes::text`.as("poolVotes"),
        "admitted",
        "reason_code as reasonCode",
        "policy_version as policyVersion",
        "tokens_used as tokensUsed",
        "id",
      ])
      .where("created_at", ">=", window.since)
      .where("created_at", "<", window.until)
      // The position's created_at is read by Postgres, to the microsecond, from the row itself.
      .$if(after !== null, (q) =>
        q.where(
          sql<boolean>`(created_at, id) > ((select p.created_at from gateway_decisions p where p.id = ${after}), ${after})`,
        ),
      )
      .orderBy("created_at")
      .orderBy("id")
      .limit(size)
      .execute() as unknown as Promise<AuditWindowRow[]>
  );
}

/**
 * The audit records made in [since, until), in the order they were made (created_at, id), a page at a
 * time: a replay of millions of records holds two pages in memory. Each page is one indexed keyset query
 * (migrations/0016's index); the next one is already on its way while the caller works on this one.
 */
export async function* auditWindow(
  db: Kysely<Database>,
  window: { since: Date; until: Date },
  pageSize = AUDIT_PAGE_SIZE,
): AsyncGenerator<AuditWindowRow[]> {
  let next: Promise<AuditWindowRow[]> | null = page(db, window, null, pageSize);
  while (next !== null) {
    const rows: AuditWindowRow[] = await next;
    // The next page is asked for before this one is handed out: Postgres works while the caller does.
    next = rows.length === pageSize ? page(db, window, (rows[rows.length - 1] as AuditWindowRow).id, pageSize) : null;
    if (rows.length > 0) yield rows;
  }
}
