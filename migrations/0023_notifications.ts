import { type Kysely, sql } from "kysely";

/**
 * Notifications (services/notifications): subscriptions, the outbox of events, and their deliveries.
 *
 * notification_events is the outbox: the indexer writes governance events in its range transaction and
 * the ledger's scan writes budget events, so an event exists if and only if the change that caused it
 * committed. `seq` orders them; `dedupe_key` makes an event that follows from state (a vote ended, a
 * budget crossed 80%) written once however often the state is looked at, and is cleared when the event is
 * retracted (its block was rolled back) so that the new chain may cause it again. `fanned_out` is false
 * until the delivering leader has matched the event against the subscriptions (a flag, not a cursor:
 * writers commit out of `seq` order).
 *
 * notification_deliveries holds one row per (event, subscription): the leader sends a lane's rows in
 * `event_seq` order (a lane is one proposal's events for one subscription, or one kind's), retries with
 * backoff, and dead-letters a row after a bounded time.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("notification_subscriptions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("owner", "text", (c) => c.notNull())
    .addColumn("channel", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("secret", "text", (c) => c.notNull())
    .addColumn("previous_secret", "text")
    .addColumn("previous_secret_until", "timestamptz")
    .addColumn("event_types", sql`text[]`)
    .addColumn("proposal_ids", sql`text[]`)
    .addColumn("models", sql`text[]`)
    .addColumn("delegates", sql`text[]`)
    .addColumn("verified", "boolean", (c) => c.notNull())
    .addColumn("active", "boolean", (c) => c.notNull().defaultTo(true))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex("notification_subscriptions_owner_idx")
    .on("notification_subscriptions")
    .column("owner")
    .execute();

  await db.schema
    .createTable("notification_events")
    .addColumn("seq", "bigserial", (c) => c.primaryKey())
    .addColumn("id", "text", (c) => c.notNull().unique())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("dedupe_key", "text", (c) => c.unique())
    .addColumn("proposal_id", "text")
    .addColumn("actor", "text")
    .addColumn("recipient", "text")
    .addColumn("models", sql`text[]`)
    .addColumn("block_number", "bigint")
    .addColumn("retracts", "text")
    .addColumn("retracted", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("data", "jsonb", (c) => c.notNull())
    .addColumn("occurred_at", "timestamptz", (c) => c.notNull())
    .addColumn("fanned_out", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index notification_events_pending_idx on notification_events (seq) where not fanned_out`.execute(db);
  await sql`create index notification_events_block_idx on notification_events (block_number)
    where block_number is not null and not retracted`.execute(db);

  await db.schema
    .createTable("notification_deliveries")
    .addColumn("event_seq", "bigint", (c) => c.notNull().references("notification_events.seq"))
    .addColumn("subscription_id", "text", (c) =>
      c.notNull().references("notification_subscriptions.id").onDelete("cascade"),
    )
    .addColumn("lane", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("pending"))
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("last_error", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("finished_at", "timestamptz")
    .addPrimaryKeyConstraint("notification_deliveries_pk", ["event_seq", "subscription_id"])
    .execute();
  await sql`create index notification_deliveries_pending_idx
    on notification_deliveries (subscription_id, lane, event_seq) where status = 'pending'`.execute(db);
  await sql`create index notification_deliveries_status_idx
    on notification_deliveries (subscription_id, status)`.execute(db);
}
