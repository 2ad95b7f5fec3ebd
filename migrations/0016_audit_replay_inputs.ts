import type { Kysely } from "kysely";

/**
 * What a replay of the audit needs to decide a call again (services/policy/replay.ts): the prompt estimate
 * and the max_tokens it asked for (null: none asked) are what decide() reads beyond the record's other
 * columns, and `decided_at` is the clock the decision used (its epoch, its minute, whether a grant had
 * started), which `created_at` only approximates (the database's clock, at the write). Records written
 * before this migration have `prompt_tokens` null: a replay counts them as not evaluable.
 *
 * `choices` is OpenAI's `n` (completions asked for; null: one); `pool_epoch_start` and `pool_votes` the
 * consumer's voting power at the epoch's start the pool's rule was judged on (null: not loaded, the pool
 * had no minimum). The ledger's functions
 * (services/db/ledger/*.sql) insert these columns from the record the gateway sends.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("gateway_decisions")
    .addColumn("prompt_tokens", "integer")
    .addColumn("max_tokens", "integer")
    .addColumn("choices", "integer")
    .addColumn("pool_epoch_start", "bigint")
    .addColumn("pool_votes", "numeric")
    .addColumn("decided_at", "timestamptz")
    .execute();
  // Replays read a window of the audit in pages, in time order.
  await db.schema
    .createIndex("gateway_decisions_created_idx")
    .on("gateway_decisions")
    .columns(["created_at", "id"])
    .execute();
}
