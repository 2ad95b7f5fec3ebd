import { type Kysely, sql } from "kysely";

/**
 * The gateway's own state: API keys (hashes only), budget and rate counters, the usage ledger and
 * the audit trail of decisions. Token amounts are bigint (numbers in TypeScript, capped at 2^53 - 1).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("key_hash", "text", (c) => c.notNull().unique())
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("address", "text", (c) => c.notNull())
    .addColumn("label", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("revoked_at", "timestamptz")
    .execute();
  await db.schema.createIndex("api_keys_address_idx").on("api_keys").columns(["address", "created_at"]).execute();

  // One row per budget account and epoch; reservations are guarded updates of this row.
  await db.schema
    .createTable("gateway_budget_counters")
    .addColumn("account", "text", (c) => c.notNull())
    .addColumn("epoch_start", "bigint", (c) => c.notNull())
    .addColumn("budget_limit", "bigint", (c) => c.notNull())
    .addColumn("used", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("reserved", "bigint", (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint("gateway_budget_counters_pk", ["account", "epoch_start"])
    .addCheckConstraint("gateway_budget_counters_nonnegative", sql`used >= 0 and reserved >= 0`)
    .execute();

  // Requests per consumer, model and minute, shared by every replica.
  await db.schema
    .createTable("gateway_rate_counters")
    .addColumn("consumer", "text", (c) => c.notNull())
    .addColumn("model_id", "text", (c) => c.notNull())
    .addColumn("minute_start", "bigint", (c) => c.notNull())
    .addColumn("requests", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("gateway_rate_counters_pk", ["consumer", "model_id", "minute_start"])
    .execute();

  await db.schema
    .createTable("gateway_usage")
    .addColumn("consumer", "text", (c) => c.notNull())
    .addColumn("model_id", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("source_id", "text", (c) => c.notNull())
    .addColumn("epoch_start", "bigint", (c) => c.notNull())
    .addColumn("tokens_used", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("requests", "bigint", (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint("gateway_usage_pk", ["consumer", "model_id", "source", "source_id", "epoch_start"])
    .execute();

  await db.schema
    .createTable("gateway_decisions")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("request_id", "text", (c) => c.notNull().unique())
    .addColumn("consumer", "text")
    .addColumn("api_key_id", "text")
    .addColumn("endpoint", "text", (c) => c.notNull())
    .addColumn("model_id", "text", (c) => c.notNull())
    .addColumn("purpose", "text")
    .addColumn("admitted", "boolean", (c) => c.notNull())
    .addColumn("reason_code", "text")
    .addColumn("policy_version", "integer")
    .addColumn("proposal_id", "numeric(78, 0)")
    .addColumn("source", "text")
    .addColumn("source_id", "text")
    .addColumn("epoch_start", "bigint")
    .addColumn("tokens_reserved", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("tokens_used", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("outcome", "text", (c) => c.notNull())
    .addColumn("latency_ms", "double precision")
    .addColumn("overhead_ms", "double precision")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("settled_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("gateway_decisions_consumer_idx")
    .on("gateway_decisions")
    .columns(["consumer", "id desc"])
    .execute();
  await db.schema
    .createIndex("gateway_decisions_model_idx")
    .on("gateway_decisions")
    .columns(["model_id", "id desc"])
    .execute();
}
