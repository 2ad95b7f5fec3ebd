import { randomUUID } from "node:crypto";
import { getAddress, isAddress } from "ethers";
import { type Selectable, sql, type Transaction } from "kysely";
import type { DatabaseHandle } from "../db/connection.ts";
import type { NotificationSubscriptionsTable } from "../db/notification-tables.ts";
import type { Database } from "../db/schema.ts";
import { AppError } from "../shared/errors.ts";
import type { Mailer } from "./email.ts";
import { EVENT_TYPES } from "./events.ts";
import { checkLinkToken, type LinkAction, tokenSubscription } from "./links.ts";
import { checkEmail, checkWebhookUrl, type TargetRules } from "./targets.ts";
import { newWebhookSecret } from "./webhook.ts";

export type SubscriptionRow = Selectable<NotificationSubscriptionsTable>;

export interface SubscriptionInput {
  channel: "WEBHOOK" | "EMAIL";
  target: string;
  eventTypes?: string[] | null;
  proposalIds?: string[] | null;
  models?: string[] | null;
  delegates?: string[] | null;
}

export interface SubscriptionsDeps {
  database: DatabaseHandle;
  targets: () => TargetRules;
  mailer: Mailer | null;
  maxPerOwner: number;
  /** Confirmation mails one address, and one owner, may be sent in CONFIRMATION_WINDOW_MS. */
  confirmationsPerAddress: number;
  confirmationsPerOwner: number;
  /** The chain's head block: where a subscription starts (it receives the events of later blocks). */
  chainHead: () => Promise<number>;
  now: () => number;
}

/** How long the previous secret still signs after a rotation: receivers switch within it. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;
/** The window the confirmation mail limits count over. */
const CONFIRMATION_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Entries of one filter. */
const MAX_FILTER_ENTRIES = 100;

function filter(name: string, values: string[] | null | undefined, check: (v: string) => string): string[] | null {
  if (values === null || values === undefined) return null;
  if (values.length === 0 || values.length > MAX_FILTER_ENTRIES) {
    throw new AppError(
      "BAD_USER_INPUT",
      `${name} holds 1 to ${MAX_FILTER_ENTRIES} entries (leave it out to match all)`,
    );
  }
  return [...new Set(values.map(check))];
}

function normaliseFilters(input: SubscriptionInput) {
  return {
    event_types: filter("eventTypes", input.eventTypes, (t) => {
      const type = t.toLowerCase();
      if (!(EVENT_TYPES as readonly string[]).includes(type)) {
        throw new AppError(
          "BAD_USER_INPUT",
          `unknown event type ${JSON.stringify(t)}: one of ${EVENT_TYPES.join(", ")}`,
        );
      }
      return type;
    }),
    proposal_ids: filter("proposalIds", input.proposalIds, (id) => {
      if (!/^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/.test(id)) {
        throw new AppError("BAD_USER_INPUT", `proposal id ${JSON.stringify(id)} is not a number`);
      }
      return BigInt(id).toString();
    }),
    models: filter("models", input.models, (m) => {
      if (m.length === 0 || m.length > 128) throw new AppError("BAD_USER_INPUT", "a model id is 1 to 128 characters");
      return m;
    }),
    delegates: filter("delegates", input.delegates, (d) => {
      if (!isAddress(d)) throw new AppError("BAD_USER_INPUT", `delegate ${JSON.stringify(d)} is not an address`);
      return getAddress(d);
    }),
  };
}

/** Subscription management for its owner (an address, as its API keys name it); I/O at the edges only. */
export function createSubscriptions(deps: SubscriptionsDeps) {
  const db = deps.database.db;

  async function owned(owner: string, id: string): Promise<SubscriptionRow> {
    const row = await db.selectFrom("notification_subscriptions").selectAll().where("id", "=", id).executeTakeFirst();
    // Someone else's subscription is as unknown as a missing one: ids say nothing about who owns what.
    if (!row || row.owner !== owner) throw new AppError("NOT_FOUND", `no subscription ${id} of ${owner}`);
    return row;
  }

  /**
   * Logs the confirmation mail about to be sent, or refuses it: deleting and creating a subscription again
   * sends a new one, so without a bound anyone with an API key could mail any address without end.
   */
  async function countConfirmation(trx: Transaction<Database>, owner: string, target: string): Promise<void> {
    // Owners lock first (the caller holds it), then the address: two owners mailing one address queue here.
    await sql`select pg_advisory_xact_lock(hashtext(${`commons-confirmations:${target}`}))`.execute(trx);
    const now = deps.now();
    const since = new Date(now - CONFIRMATION_WINDOW_MS);
    await trx.deleteFrom("notification_confirmations").where("sent_at", "<", since).execute();
    const sent = await trx
      .selectFrom("notification_confirmations")
      .select(["target", "owner", "sent_at"])
      .where((eb) => eb.or([eb("target", "=", target), eb("owner", "=", owner)]))
      .orderBy("sent_at")
      .execute();
    const limits = [
      { rows: sent.filter((r) => r.target === target), max: deps.confirmationsPerAddress, who: target },
      { rows: sent.filter((r) => r.owner === owner), max: deps.confirmationsPerOwner, who: owner },
    ];
    for (const { rows, max, who } of limits) {
      if (rows.length < max) continue;
      const retryAt = new Date(
        (rows[rows.length - max] as { sent_at: Date }).sent_at.getTime() + CONFIRMATION_WINDOW_MS,
      );
      throw new AppError(
        "CONFIRMATION_LIMIT",
        `${who} was sent ${rows.length} confirmation mails in the last 24 hours, the most allowed: the next may be sent at ${retryAt.toISOString()}`,
        { details: { maximum: max, retryAt: retryAt.toISOString() } },
      );
    }
    await trx
      .insertInto("notification_confirmations")
      .values({ target, owner, sent_at: new Date(now) })
      .execute();
  }

  return {
    async create(owner: string, input: SubscriptionInput): Promise<{ row: SubscriptionRow; secret: string | null }> {
      const filters = normaliseFilters(input);
      const email = input.channel === "EMAIL";
      const target = email
        ? checkEmail(input.target, deps.mailer !== null)
        : (await checkWebhookUrl(input.target.trim(), deps.targets())).url.toString();
      // A webhook starts now; an email address when it is confirmed (it is sent nothing before).
      const sinceBlock = email ? null : await deps.chainHead();
      const row: SubscriptionRow = {
        id: `sub_${randomUUID()}`,
        owner,
        channel: email ? "email" : "webhook",
        target,
        secret: newWebhookSecret(),
        previous_secret: null,
        previous_secret_until: null,
        ...filters,
        verified: !email,
        active: true,
        since_block: sinceBlock,
        created_at: new Date(deps.now()),
      };
      // The count and the insert in one transaction, under a per-owner lock: concurrent creations cannot pass the limit.
      await db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext(${`commons-subscriptions:${owner}`}))`.execute(trx);
        const { count } = await trx
          .selectFrom("notification_subscriptions")
          .select((eb) => eb.fn.countAll<number>().as("count"))
          .where("owner", "=", owner)
          .executeTakeFirstOrThrow();
        if (Number(count) >= deps.maxPerOwner) {
          throw new AppError(
            "SUBSCRIPTION_LIMIT",
            `${owner} holds ${count} subscriptions, the most one owner may: delete one first`,
            {
              details: { maximum: deps.maxPerOwner },
            },
          );
        }
        if (email) await countConfirmation(trx, owner, target);
        await trx.insertInto("notification_subscriptions").values(row).execute();
      });
      if (email) {
        try {
          await (deps.mailer as Mailer).sendConfirmation(row);
        } catch (error) {
          await db.deleteFrom("notification_subscriptions").where("id", "=", row.id).execute();
          throw error;
        }
      }
      // A webhook's secret is shown once, here and on rotation; an email subscription's signs its links only.
      return { row, secret: email ? null : row.secret };
    },

    async list(owner: string | null): Promise<SubscriptionRow[]> {
      let query = db.selectFrom("notification_subscriptions").selectAll().orderBy("created_at").orderBy("id");
      if (owner !== null) query = query.where("owner", "=", owner);
      return query.execute();
    },

    async remove(owner: string, id: string): Promise<SubscriptionRow> {
      const row = await owned(owner, id);
      await db.deleteFrom("notification_subscriptions").where("id", "=", id).execute();
      return row;
    },

    /**
     * A new secret signs from now on; the old one also signs for ROTATION_OVERLAP_MS, so receivers switch
     * without a gap. A webhook's only: an email subscription's secret is never shown (no one holds it to
     * rotate), and it signs the links of every mail already sent, whose one-click unsubscribe must keep
     * working for as long as the subscription lives (RFC 8058), not only for an overlap.
     */
    async rotateSecret(owner: string, id: string): Promise<{ row: SubscriptionRow; secret: string }> {
      const row = await owned(owner, id);
      if (row.channel !== "webhook") {
        throw new AppError(
          "BAD_USER_INPUT",
          "only a webhook subscription has a signing secret to rotate; an email subscription's links stay valid while it lives (delete it to end them)",
          { details: { reason: "EMAIL_HAS_NO_SECRET" } },
        );
      }
      const secret = newWebhookSecret();
      const updated = await db
        .updateTable("notification_subscriptions")
        .set({
          secret,
          previous_secret: row.secret,
          previous_secret_until: new Date(deps.now() + ROTATION_OVERLAP_MS),
        })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return { row: updated, secret };
    },

    /** Follows an email link: confirms the address, or unsubscribes (pending mail to it is dropped). */
    async followLink(action: LinkAction, token: string): Promise<SubscriptionRow> {
      const id = tokenSubscription(token);
      const row = await db.selectFrom("notification_subscriptions").selectAll().where("id", "=", id).executeTakeFirst();
      if (!row) throw new AppError("NOT_FOUND", "this subscription no longer exists: nothing more will be sent");
      checkLinkToken(token, row.secret, id, action);
      if (action === "confirm") {
        // A second click keeps the first start: events between the two were the address's to receive.
        const head = row.since_block ?? (await deps.chainHead());
        return db
          .updateTable("notification_subscriptions")
          .set((eb) => ({ verified: true, since_block: eb.fn.coalesce("since_block", eb.val(head)) }))
          .where("id", "=", id)
          .returningAll()
          .executeTakeFirstOrThrow();
      }
      return db.transaction().execute(async (trx) => {
        await trx
          .deleteFrom("notification_deliveries")
          .where("subscription_id", "=", id)
          .where("status", "=", "pending")
          .execute();
        return trx
          .updateTable("notification_subscriptions")
          .set({ active: false })
          .where("id", "=", id)
          .returningAll()
          .executeTakeFirstOrThrow();
      });
    },
  };
}

export type Subscriptions = ReturnType<typeof createSubscriptions>;

export interface SubscriptionHealth {
  subscriptionId: string;
  owner: string;
  channel: string;
  active: boolean;
  pending: number;
  delivered: number;
  dead: number;
  oldestPendingAt: Date | null;
  lastError: string | null;
}

/** Delivery health per subscription (the operator's view; an owner sees its own). */
export async function deliveryHealth(database: DatabaseHandle, owner: string | null): Promise<SubscriptionHealth[]> {
  const { rows } = await sql<{
    id: string;
    owner: string;
    channel: string;
    active: boolean;
    pending: number;
    delivered: number;
    dead: number;
    oldest: Date | null;
    last_error: string | null;
  }>`
    select s.id, s.owner, s.channel, s.active,
      count(*) filter (where d.status = 'pending')::int as pending,
      count(*) filter (where d.status = 'delivered')::int as delivered,
      count(*) filter (where d.status = 'dead')::int as dead,
      min(d.created_at) filter (where d.status = 'pending') as oldest,
      (select last_error from notification_deliveries l where l.subscription_id = s.id and l.last_error is not null
        order by l.event_seq desc limit 1) as last_error
    from notification_subscriptions s left join notification_deliveries d on d.subscription_id = s.id
    where ${owner === null ? sql`true` : sql`s.owner = ${owner}`}
    group by s.id order by s.created_at, s.id`.execute(database.db);
  return rows.map((r) => ({
    subscriptionId: r.id,
    owner: r.owner,
    channel: r.channel,
    active: r.active,
    pending: r.pending,
    delivered: r.delivered,
    dead: r.dead,
    oldestPendingAt: r.oldest,
    lastError: r.last_error,
  }));
}
