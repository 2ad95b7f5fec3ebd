import type { Kysely } from "kysely";

/**
 * A subscription receives what happens after it starts, not a backlog: `since_block` is the chain's head
 * when it started (a webhook's creation, an email address's confirmation), and the deliverer matches it
 * only with events of later blocks. Without it, an event of a block mined before the start reached the
 * subscription whenever the indexer wrote it after the start: an address was mailed about a proposal made
 * before its owner confirmed it. Budget events carry no block: they report the state when they are found.
 *
 * notification_confirmations logs each confirmation mail sent, so that creating and deleting a
 * subscription over and over cannot mail an address (or anyone's, from one owner) without bound.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("notification_subscriptions").addColumn("since_block", "bigint").execute();
  await db.schema
    .createTable("notification_confirmations")
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("owner", "text", (c) => c.notNull())
    .addColumn("sent_at", "timestamptz", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("notification_confirmations_target_idx")
    .on("notification_confirmations")
    .columns(["target", "sent_at"])
    .execute();
  await db.schema
    .createIndex("notification_confirmations_owner_idx")
    .on("notification_confirmations")
    .columns(["owner", "sent_at"])
    .execute();
}
