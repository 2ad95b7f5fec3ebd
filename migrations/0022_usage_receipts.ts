import { type Kysely, sql } from "kysely";

/**
 * Usage receipts (services/receipts): each settled audit record is a receipt, and the leader anchors each
 * period's Merkle root on chain (UsageAnchor).
 *
 * gateway_decisions gains what a receipt names beyond the audit so far: the completion's tokens as the
 * upstream billed them, and sha256 of the raw request and response bodies (the bodies stay private; null
 * in records written before this migration, whose receipts carry zero). A period holds the records
 * settled in it (refusals: decided in it), hence the index on that instant.
 *
 * usage_periods is the anchoring job's state, written before anything is sent so that a crash resumes the
 * same period with the same tree: `nodes` is the period's whole Merkle tree (32 bytes a node, the layout
 * of services/receipts/tree.ts), `totals` the tokens and calls per model and per budget source, and the
 * transaction as sent (hash, nonce, the signed bytes to send again) and as mined (block number and hash, to notice a reorg).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("gateway_decisions")
    .addColumn("completion_tokens", "integer")
    .addColumn("request_hash", "text")
    .addColumn("response_hash", "text")
    .execute();
  // The settlement writes them (it alone knows them): gateway_settle takes them as new last arguments, so
  // the one without them is dropped here and the ledger's sources define the new one after the migrations.
  await sql`drop function if exists gateway_settle(
    text, jsonb, text, bigint, text, text, text, text, text[], bigint, bigint, bigint, text, double precision,
    double precision, text)`.execute(db);
  await sql`create index gateway_decisions_receipt_idx
    on gateway_decisions ((coalesce(settled_at, created_at)), request_id) where outcome <> 'PENDING'`.execute(db);

  await db.schema
    .createTable("usage_periods")
    .addColumn("period", "bigint", (c) => c.primaryKey())
    .addColumn("starts_at", "timestamptz", (c) => c.notNull())
    .addColumn("ends_at", "timestamptz", (c) => c.notNull())
    .addColumn("root", "text", (c) => c.notNull())
    .addColumn("receipt_count", "bigint", (c) => c.notNull())
    .addColumn("total_tokens", "bigint", (c) => c.notNull())
    .addColumn("nodes", "bytea", (c) => c.notNull())
    .addColumn("totals", "jsonb", (c) => c.notNull())
    .addColumn("uri", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("tx_hash", "text")
    .addColumn("tx_nonce", "bigint")
    .addColumn("tx_raw", "text")
    .addColumn("block_number", "bigint")
    .addColumn("block_hash", "text")
    .addColumn("built_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("anchored_at", "timestamptz")
    .execute();
  await db.schema.createIndex("usage_periods_state_idx").on("usage_periods").columns(["state", "period"]).execute();
}
