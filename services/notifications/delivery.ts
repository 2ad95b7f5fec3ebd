import { sql } from "kysely";
import type { DatabaseHandle } from "../db/connection.ts";
import { sleep } from "../indexer/abortable-sleep.ts";
import { createLeaderTask } from "../indexer/leader.ts";
import type { Logger } from "../shared/logger.ts";
import type { Metrics } from "../shared/metrics.ts";
import { scanBudgets } from "./budgets.ts";
import type { Mailer } from "./email.ts";
import { OUTBOX_CHANNEL } from "./outbox.ts";
import type { OutgoingEvent } from "./render.ts";
import { checkWebhookUrl, type TargetRules } from "./targets.ts";
import { postWebhook } from "./webhook.ts";

export interface DelivererOptions {
  database: DatabaseHandle;
  /** Names the leader lock: one deliverer per deployment. */
  name: string;
  logger?: Logger;
  now: () => number;
  mailer: Mailer | null;
  targets: TargetRules;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  deadAfterMs: number;
  concurrency: number;
  /** Counts each attempt's result (absent: not counted). */
  metrics?: Pick<Metrics, "notificationDeliveries">;
  /** A policy change goes to owners whose keys used one of its models within this many days. */
  policyUsageDays: number;
  /** How often the leader scans the ledger for budget thresholds (budgets.ts). */
  budgetScanMs: number;
  /** Longest wait between looks at the outbox when nothing wakes the leader (ms). */
  idleMs?: number;
  leaderIntervalMs?: number;
}

export interface Deliverer {
  start(): void;
  stop(): Promise<void>;
  isLeader(): boolean;
}

/** Events fanned out per statement, and deliveries read per lane and per batch. */
const FAN_OUT_BATCH = 2000;
const PER_LANE = 50;
const BATCH = 4000;

interface Pending {
  event_seq: number;
  subscription_id: string;
  lane: string;
  created_at: Date;
  next_attempt_at: Date;
  attempts: number;
  id: string;
  type: string;
  data: Record<string, unknown>;
  occurred_at: Date;
  channel: string;
  target: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: Date | null;
}

/** Exponential backoff with full jitter in its upper half: 2^attempts × base, at most max. */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempts, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The leader's delivery loop: matches new outbox events against subscriptions (fan-out), then sends each
 * lane's due deliveries in order, lanes in parallel; a failure stops its lane and is retried with backoff
 * until NOTIFY_DEAD_AFTER_MS, then dead-lettered. It shares nothing with the indexer or the gateway but
 * the database, so a slow receiver slows only its own lane.
 */
export function createDeliverer(options: DelivererOptions): Deliverer {
  const { database, logger } = options;
  const db = database.db;
  const idleMs = options.idleMs ?? 1_000;

  async function fanOut(): Promise<number> {
    const { rows } = await sql<{ n: number }>`
      with batch as (
        select seq from notification_events where not fanned_out order by seq limit ${FAN_OUT_BATCH}),
      marked as (
        update notification_events e set fanned_out = true from batch where e.seq = batch.seq
        returning e.*),
      fresh as (
        insert into notification_deliveries (event_seq, subscription_id, lane)
        select e.seq, s.id, coalesce('proposal:' || e.proposal_id, e.type)
        from marked e join notification_subscriptions s on s.active and s.verified
        where e.retracts is null and not e.retracted
          and (s.since_block is null or e.block_number is null or e.block_number > s.since_block)
          and (s.event_types is null or e.type = any(s.event_types))
          and (s.proposal_ids is null or e.proposal_id = any(s.proposal_ids)
            or e.type in ('policy.queued', 'policy.executed', 'budget.threshold', 'guardian.action'))
          and (e.recipient is null or e.recipient = s.owner)
          and (e.type <> 'vote.cast' or e.actor = any(s.delegates))
          and (s.models is null or e.models is null or e.models && s.models)
          and (e.type not in ('policy.queued', 'policy.executed') or e.models && s.models or exists (
            select 1 from gateway_decisions d
            where d.consumer = s.owner and d.model_id = any(e.models)
              and d.created_at > now() - make_interval(days => ${options.policyUsageDays})))
        on conflict do nothing
        returning 1),
      corrections as (
        insert into notification_deliveries (event_seq, subscription_id, lane)
        select e.seq, d.subscription_id, d.lane
        from marked e
        join notification_events o on o.id = e.retracts
        join notification_deliveries d on d.event_seq = o.seq
        on conflict do nothing
        returning 1)
      select (select count(*) from marked)::int as n`.execute(db);
    return rows[0]?.n ?? 0;
  }

  async function due(): Promise<Pending[][]> {
    const { rows } = await sql<Pending>`
      select d.event_seq, d.subscription_id, d.lane, d.created_at, d.next_attempt_at, d.attempts,
        e.id, e.type, e.data, e.occurred_at,
        s.channel, s.target, s.secret, s.previous_secret, s.previous_secret_until
      from (
        select *, row_number() over (partition by subscription_id, lane order by event_seq) as rank
        from notification_deliveries where status = 'pending') d
      join notification_events e on e.seq = d.event_seq
      join notification_subscriptions s on s.id = d.subscription_id
      where d.rank <= ${PER_LANE}
      order by d.event_seq
      limit ${BATCH}`.execute(db);
    const now = options.now();
    const lanes = new Map<string, Pending[]>();
    const blocked = new Set<string>();
    for (const row of rows) {
      const key = `${row.subscription_id}\u0000${row.lane}`;
      // A lane goes in order: a row not yet due holds back the rows behind it.
      if (blocked.has(key)) continue;
      if (row.next_attempt_at.getTime() > now) {
        blocked.add(key);
        continue;
      }
      const lane = lanes.get(key);
      if (lane) lane.push(row);
      else lanes.set(key, [row]);
    }
    return [...lanes.values()];
  }

  async function send(row: Pending): Promise<void> {
    const event: OutgoingEvent = { id: row.id, type: row.type, occurredAt: row.occurred_at, data: row.data };
    if (row.channel === "email") {
      if (!options.mailer) throw new Error("SMTP_URL is not set on the delivering replica");
      await options.mailer.sendEvent({ id: row.subscription_id, target: row.target, secret: row.secret }, event);
      return;
    }
    const target = await checkWebhookUrl(row.target, options.targets);
    const secrets = [row.secret];
    if (row.previous_secret && row.previous_secret_until && row.previous_secret_until.getTime() > options.now()) {
      secrets.push(row.previous_secret);
    }
    await postWebhook(target, secrets, event, { timeoutMs: options.timeoutMs, now: new Date(options.now()) });
  }

  async function failed(row: Pending, error: unknown) {
    const now = options.now();
    const message = (error instanceof Error ? error.message : String(error)).slice(0, 500);
    const deadline = row.created_at.getTime() + options.deadAfterMs;
    const attempts = row.attempts + 1;
    options.metrics?.notificationDeliveries.inc({ channel: row.channel, result: now >= deadline ? "dead" : "failed" });
    if (now >= deadline) {
      await db
        .updateTable("notification_deliveries")
        .set({ status: "dead", attempts, last_error: message, finished_at: new Date(now) })
        .where("event_seq", "=", row.event_seq)
        .where("subscription_id", "=", row.subscription_id)
        .execute();
      logger?.warn({ subscription: row.subscription_id, event: row.id }, "notifications: dead-lettered");
      return;
    }
    // The last try falls on the deadline, so a receiver back just in time still gets it.
    const next = Math.min(now + retryDelayMs(row.attempts, options.retryBaseMs, options.retryMaxMs), deadline);
    await db
      .updateTable("notification_deliveries")
      .set({ attempts, last_error: message, next_attempt_at: new Date(next) })
      .where("event_seq", "=", row.event_seq)
      .where("subscription_id", "=", row.subscription_id)
      .execute();
  }

  async function delivered(rows: Pending[]) {
    if (rows.length === 0) return;
    await sql`
      update notification_deliveries d set status = 'delivered', attempts = d.attempts + 1,
        last_error = null, finished_at = ${new Date(options.now())}
      from unnest(${rows.map((r) => r.event_seq)}::bigint[], ${rows.map((r) => r.subscription_id)}::text[])
        as done(seq, sub)
      where d.event_seq = done.seq and d.subscription_id = done.sub`.execute(db);
    for (const row of rows) options.metrics?.notificationDeliveries.inc({ channel: row.channel, result: "delivered" });
  }

  /** Sends the due lanes, `concurrency` at a time; returns how many deliveries were attempted. */
  async function deliver(signal: AbortSignal): Promise<number> {
    const lanes = await due();
    if (lanes.length === 0) return 0;
    const ok: Pending[] = [];
    let attempted = 0;
    let next = 0;
    const worker = async () => {
      while (next < lanes.length && !signal.aborted) {
        const lane = lanes[next++] as Pending[];
        for (const row of lane) {
          attempted++;
          try {
            await send(row);
            ok.push(row);
          } catch (error) {
            await failed(row, error);
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency, lanes.length) }, worker));
    await delivered(ok);
    return attempted;
  }

  /** Waits for a NOTIFY on the outbox, the next retry that falls due, or idleMs, whichever is first. */
  async function nap(wakeup: { promise: Promise<void> }, signal: AbortSignal) {
    const row = await db
      .selectFrom("notification_deliveries")
      .select((eb) => eb.fn.min("next_attempt_at").as("next"))
      .where("status", "=", "pending")
      .executeTakeFirst();
    const nextDue = row?.next ? new Date(row.next as Date).getTime() - options.now() : idleMs;
    const waitMs = Math.max(5, Math.min(idleMs, options.budgetScanMs, nextDue));
    await Promise.race([wakeup.promise, sleep(waitMs, signal)]);
  }

  async function term(signal: AbortSignal) {
    let wake = () => {};
    const wakeup = { promise: Promise.resolve() };
    const arm = () => {
      wakeup.promise = new Promise<void>((resolve) => {
        wake = resolve;
      });
    };
    arm();
    const unlisten = await database.listen(
      OUTBOX_CHANNEL,
      () => wake(),
      () => wake(),
    );
    let scanned = 0;
    try {
      while (!signal.aborted) {
        try {
          if (options.now() - scanned >= options.budgetScanMs) {
            scanned = options.now();
            await scanBudgets(db, Math.floor(scanned / 1000));
          }
          const fanned = await fanOut();
          const attempted = await deliver(signal);
          if (fanned === 0 && attempted === 0) {
            await nap(wakeup, signal);
            arm();
          }
        } catch (error) {
          if (signal.aborted) break;
          logger?.warn({ err: error }, "notifications: delivery step failed; retrying");
          await sleep(idleMs, signal);
        }
      }
    } finally {
      await unlisten().catch(() => {});
    }
  }

  const task = createLeaderTask({
    database,
    name: options.name,
    ...(options.leaderIntervalMs ? { intervalMs: options.leaderIntervalMs } : {}),
    onError: (error) => logger?.warn({ err: error }, "notifications: leader election failed; retrying"),
    term,
    onFailed: (error) => logger?.error({ err: error }, "notifications: deliverer stopped"),
  });

  return {
    start: task.start,
    async stop() {
      await task.stop();
      options.mailer?.close();
    },
    isLeader: task.isLeader,
  };
}
