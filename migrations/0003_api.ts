import { type Kysely, sql } from "kysely";

/**
 * The API's own state: Sign-In with Ethereum nonces. A nonce is issued with an expiry and deleted when
 * a sign-in uses it, so each one signs in at most once. Also the index the API's unfiltered vote list
 * needs (newest first across all proposals).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("siwe_nonces")
    .addColumn("nonce", "text", (c) => c.primaryKey())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .execute();
  // Expired nonces are swept by expiry when new ones are issued.
  await db.schema.createIndex("siwe_nonces_expires_idx").on("siwe_nonces").column("expires_at").execute();

  // `votes` without a proposal or voter filter pages newest first over every vote.
  await db.schema
    .createIndex("votes_newest_idx")
    .on("votes")
    .columns(["block_number desc", "log_index desc"])
    .execute();
}
