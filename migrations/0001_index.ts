import { type Kysely, sql } from "kysely";

/**
 * The governance index: everything the indexer reads from the chain. uint256 values are numeric(78)
 * (exact; strings in TypeScript); block numbers and Unix timestamps are bigint (numbers in TypeScript).
 * Addresses are stored checksummed, as the indexer normalises them at decode.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("indexer_checkpoint")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("chain_id", "bigint", (c) => c.notNull())
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("block_hash", "text", (c) => c.notNull())
    .addColumn("block_time", "bigint", (c) => c.notNull())
    .addColumn("head_block", "bigint", (c) => c.notNull())
    .addColumn("total_supply", "numeric(78, 0)", (c) => c.notNull().defaultTo("0"))
    .addColumn("last_error", "text")
    .addColumn("last_error_at", "timestamptz")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // Recent block hashes, to notice a changed parent (a reorg) and find the common ancestor.
  await db.schema
    .createTable("chain_blocks")
    .addColumn("number", "bigint", (c) => c.primaryKey())
    .addColumn("hash", "text", (c) => c.notNull())
    .addColumn("parent_hash", "text", (c) => c.notNull())
    .addColumn("timestamp", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("proposals")
    .addColumn("id", "numeric(78, 0)", (c) => c.primaryKey())
    .addColumn("proposer", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("description_hash", "text", (c) => c.notNull())
    .addColumn("targets", "jsonb", (c) => c.notNull())
    .addColumn("values", "jsonb", (c) => c.notNull())
    .addColumn("calldatas", "jsonb", (c) => c.notNull())
    // The timelock's id for this proposal's batch: maps CallExecuted/Cancelled on the timelock back here.
    .addColumn("operation_id", "text", (c) => c.notNull())
    .addColumn("actions", "jsonb", (c) => c.notNull())
    .addColumn("kinds", sql`text[]`, (c) => c.notNull())
    .addColumn("vote_start", "bigint", (c) => c.notNull())
    .addColumn("vote_end", "bigint", (c) => c.notNull())
    .addColumn("eta", "bigint")
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("for_votes", "numeric(78, 0)", (c) => c.notNull().defaultTo("0"))
    .addColumn("against_votes", "numeric(78, 0)", (c) => c.notNull().defaultTo("0"))
    .addColumn("abstain_votes", "numeric(78, 0)", (c) => c.notNull().defaultTo("0"))
    .addColumn("vote_count", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("quorum", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("created_block", "bigint", (c) => c.notNull())
    .addColumn("created_time", "bigint", (c) => c.notNull())
    .addColumn("created_tx", "text", (c) => c.notNull())
    .addColumn("created_log_index", "integer", (c) => c.notNull())
    .addColumn("updated_block", "bigint", (c) => c.notNull())
    .execute();
  // Newest first with a stable tie-breaker: the cursor of the proposals list.
  await db.schema
    .createIndex("proposals_created_idx")
    .on("proposals")
    .columns(["created_block desc", "created_log_index desc"])
    .execute();
  await db.schema.createIndex("proposals_proposer_idx").on("proposals").column("proposer").execute();
  await db.schema.createIndex("proposals_status_idx").on("proposals").column("status").execute();
  await sql`create index proposals_kinds_idx on proposals using gin (kinds)`.execute(db);
  await db.schema.createIndex("proposals_operation_idx").on("proposals").column("operation_id").execute();

  // Every transition the chain recorded (Created, Queued, Executed, Canceled, Extended).
  await db.schema
    .createTable("proposal_events")
    .addColumn("proposal_id", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("block_time", "bigint", (c) => c.notNull())
    .addColumn("tx_hash", "text", (c) => c.notNull())
    .addColumn("log_index", "integer", (c) => c.notNull())
    .addColumn("data", "jsonb")
    .addPrimaryKeyConstraint("proposal_events_pk", ["block_number", "log_index"])
    .execute();
  await db.schema.createIndex("proposal_events_proposal_idx").on("proposal_events").column("proposal_id").execute();

  await db.schema
    .createTable("votes")
    .addColumn("proposal_id", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("voter", "text", (c) => c.notNull())
    .addColumn("support", "smallint", (c) => c.notNull())
    .addColumn("weight", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("block_time", "bigint", (c) => c.notNull())
    .addColumn("tx_hash", "text", (c) => c.notNull())
    .addColumn("log_index", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("votes_pk", ["proposal_id", "voter"])
    .execute();
  await db.schema.createIndex("votes_voter_idx").on("votes").columns(["voter", "block_number"]).execute();
  await db.schema
    .createIndex("votes_proposal_order_idx")
    .on("votes")
    .columns(["proposal_id", "block_number", "log_index"])
    .execute();

  // Token holders and delegates: balance, whom they delegate to, the voting power delegated to them.
  await db.schema
    .createTable("accounts")
    .addColumn("address", "text", (c) => c.primaryKey())
    .addColumn("balance", "numeric(78, 0)", (c) => c.notNull().defaultTo("0"))
    .addColumn("delegate", "text")
    .addColumn("voting_power", "numeric(78, 0)", (c) => c.notNull().defaultTo("0"))
    .addColumn("delegators", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("updated_block", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("accounts_power_idx").on("accounts").columns(["voting_power desc", "address"]).execute();

  // Each account as it stood at the end of every block that changed it: a reorg restores accounts
  // from here instead of replaying the token's whole history.
  await db.schema
    .createTable("account_history")
    .addColumn("address", "text", (c) => c.notNull())
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("balance", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("delegate", "text")
    .addColumn("voting_power", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("delegators", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("account_history_pk", ["address", "block_number"])
    .execute();
  await db.schema.createIndex("account_history_block_idx").on("account_history").column("block_number").execute();

  // Every version of every model policy, each with the proposal that enacted it.
  await db.schema
    .createTable("policy_versions")
    .addColumn("model_id", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("approved", "boolean", (c) => c.notNull())
    .addColumn("suspended", "boolean", (c) => c.notNull())
    .addColumn("suspend_reason", "text")
    .addColumn("max_tokens_per_request", "bigint", (c) => c.notNull())
    .addColumn("requests_per_minute", "bigint", (c) => c.notNull())
    .addColumn("allowed_purposes", sql`text[]`, (c) => c.notNull())
    .addColumn("blocked_terms", sql`text[]`, (c) => c.notNull())
    .addColumn("guideline_uri", "text", (c) => c.notNull())
    .addColumn("guideline_hash", "text", (c) => c.notNull())
    .addColumn("proposal_id", "numeric(78, 0)")
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("block_time", "bigint", (c) => c.notNull())
    .addColumn("tx_hash", "text", (c) => c.notNull())
    .addColumn("log_index", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("policy_versions_pk", ["model_id", "version"])
    .execute();

  // Grants of compute; revocation is recorded on the row with its own provenance.
  await db.schema
    .createTable("grants")
    .addColumn("grant_id", "numeric(78, 0)", (c) => c.primaryKey())
    .addColumn("grantee", "text", (c) => c.notNull())
    .addColumn("model_id", "text", (c) => c.notNull())
    .addColumn("tokens_per_epoch", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("start_time", "bigint", (c) => c.notNull())
    .addColumn("end_time", "bigint", (c) => c.notNull())
    .addColumn("revoked", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("proposal_id", "numeric(78, 0)")
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("block_time", "bigint", (c) => c.notNull())
    .addColumn("tx_hash", "text", (c) => c.notNull())
    .addColumn("revoked_proposal_id", "numeric(78, 0)")
    .addColumn("revoked_block", "bigint")
    .addColumn("revoked_tx", "text")
    .execute();
  await db.schema.createIndex("grants_grantee_idx").on("grants").column("grantee").execute();
  await db.schema.createIndex("grants_block_idx").on("grants").column("block_number").execute();

  // Every version of the community pool; the newest is in force.
  await db.schema
    .createTable("community_pool_versions")
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("log_index", "integer", (c) => c.notNull())
    .addColumn("allowance_per_address", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("pool_size_per_epoch", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("epoch_length", "bigint", (c) => c.notNull())
    .addColumn("proposal_id", "numeric(78, 0)")
    .addColumn("block_time", "bigint", (c) => c.notNull())
    .addColumn("tx_hash", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("community_pool_versions_pk", ["block_number", "log_index"])
    .execute();

  // Governor settings as changed by governance (VOTING_DELAY, VOTING_PERIOD, PROPOSAL_THRESHOLD,
  // QUORUM_NUMERATOR, LATE_QUORUM_EXTENSION); the deployment's values are the first rows.
  await db.schema
    .createTable("governor_settings")
    .addColumn("setting", "text", (c) => c.notNull())
    .addColumn("value", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("effective_from", "bigint", (c) => c.notNull())
    .addColumn("proposal_id", "numeric(78, 0)")
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("log_index", "integer", (c) => c.notNull())
    .addColumn("tx_hash", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("governor_settings_pk", ["block_number", "log_index"])
    .execute();
}
