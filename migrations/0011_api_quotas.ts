import { type Kysely, sql } from "kysely";

/**
 * Quotas the API keeps for every replica at once: relayed transactions per voter and per client, the
 * relayer's gas spend and sign-ins per client, each counted per window (a day, an hour). And the ballots
 * being relayed: one claim per (proposal, voter), so that the same ballot sent twice at once, to one
 * replica or two, is relayed once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("api_quota_counters")
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("window_start", "timestamptz", (c) => c.notNull())
    .addColumn("used", "numeric(78, 0)", (c) => c.notNull())
    .addPrimaryKeyConstraint("api_quota_counters_pk", ["scope", "subject", "window_start"])
    .execute();
  // Windows that ended are swept by age.
  await db.schema
    .createIndex("api_quota_counters_window_idx")
    .on("api_quota_counters")
    .column("window_start")
    .execute();

  await db.schema
    .createTable("relay_claims")
    .addColumn("proposal_id", "numeric(78, 0)", (c) => c.notNull())
    .addColumn("voter", "text", (c) => c.notNull())
    .addColumn("claimed_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("tx_hash", "text")
    .addPrimaryKeyConstraint("relay_claims_pk", ["proposal_id", "voter"])
    .execute();
}
