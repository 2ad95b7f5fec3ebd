import { type Kysely, sql } from "kysely";

/**
 * Pool eligibility: the allocator's minimum voting power for the community pool, and what the index
 * needs to know an account's voting power at any past time (the token checkpoints by timestamp, so
 * `getPastVotes(account, t)` is the voting power at the end of the last block at or before `t`).
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Every version of the pool's minimum voting power (PoolEligibilitySet); the newest is in force.
  await db.schema
    .createTable("pool_eligibility_versions")
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("log_index", "integer", (c) => c.notNull())
    .addColumn("min_votes", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("proposal_id", "numeric(78, 0)")
    .addColumn("block_time", "bigint", (c) => c.notNull())
    .addColumn("tx_hash", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("pool_eligibility_versions_pk", ["block_number", "log_index"])
    .execute();

  // The time of each account_history row, so that voting power at a timestamp is one indexed lookup.
  // Rows indexed before this migration get the time of their block when the index still holds its
  // header, else none: those belong to a deployment whose allocator predates the rule (its minimum is
  // never set, so nobody's past voting power is ever asked), and a rebuilt index has them all.
  await db.schema.alterTable("account_history").addColumn("block_time", "bigint").execute();
  await sql`
    update account_history h set block_time = b.timestamp
    from chain_blocks b where b.number = h.block_number
  `.execute(db);
}
