import type { ColumnType, Generated } from "kysely";
import type { Timestamp } from "./gateway-tables.ts";
import type { BlockNumber } from "./index-tables.ts";

type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export type NotificationChannel = "webhook" | "email";
export type DeliveryStatus = "pending" | "delivered" | "dead";

/** A subscription (migrations/0023): who owns it, where it goes, what it wants. Null filters match all. */
export interface NotificationSubscriptionsTable {
  id: string;
  /** The owner's address (checksummed), as its API keys name it. */
  owner: string;
  channel: NotificationChannel;
  /** The webhook URL or the email address. */
  target: string;
  /** Standard Webhooks secret (`whsec_…`); for email, the key its unsubscribe and confirm links are signed with. */
  secret: string;
  /** Still signed with during a rotation, until previous_secret_until. */
  previous_secret: string | null;
  previous_secret_until: NullableTimestamp;
  event_types: string[] | null;
  proposal_ids: string[] | null;
  models: string[] | null;
  delegates: string[] | null;
  /** An email address is sent nothing but its confirmation until its owner follows the link. */
  verified: boolean;
  active: Generated<boolean>;
  /** The chain's head when it started (created; for email, confirmed): it receives events of later blocks only. */
  since_block: BlockNumber | null;
  created_at: Timestamp;
}

/** One confirmation mail sent (migrations/0026): what the per-address and per-owner daily limits count. */
export interface NotificationConfirmationsTable {
  target: string;
  owner: string;
  sent_at: Timestamp;
}

/** The outbox: one row per event, written in the transaction of the change that caused it. */
export interface NotificationEventsTable {
  seq: Generated<number>;
  id: string;
  type: string;
  dedupe_key: string | null;
  proposal_id: string | null;
  /** Who acted (a vote's voter, a guardian). */
  actor: string | null;
  /** The only owner the event is for (a budget crossing); null: anyone whose filters match. */
  recipient: string | null;
  models: string[] | null;
  block_number: BlockNumber | null;
  /** For a correction: the id of the event it retracts. */
  retracts: string | null;
  retracted: Generated<boolean>;
  data: ColumnType<Record<string, unknown>, string, string>;
  occurred_at: Timestamp;
  fanned_out: Generated<boolean>;
  created_at: Timestamp;
}

export interface NotificationDeliveriesTable {
  event_seq: number;
  subscription_id: string;
  lane: string;
  status: Generated<DeliveryStatus>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
  finished_at: NullableTimestamp;
}

export interface NotificationTables {
  notification_subscriptions: NotificationSubscriptionsTable;
  notification_events: NotificationEventsTable;
  notification_deliveries: NotificationDeliveriesTable;
  notification_confirmations: NotificationConfirmationsTable;
}
