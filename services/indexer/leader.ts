import { sql } from "kysely";
import type { DatabaseHandle } from "../db/connection.ts";
import { sleep } from "./abortable-sleep.ts";

export interface LeaderElection {
  /**
   * Runs `term` whenever this replica holds the lock, until `signal` aborts. The term's own signal
   * aborts when leadership is lost (its connection died), so it must stop writing then.
   */
  run(term: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void>;
  isLeader(): boolean;
}

export interface LeaderOptions {
  database: DatabaseHandle;
  /** Names the lock: one leader per name. */
  name: string;
  /** How often a follower tries to take the lock, and a leader checks its connection. */
  intervalMs?: number;
  /** Called between attempts while not leading (followers refresh their view of the index). */
  onFollow?: () => Promise<void>;
  onError?: (error: unknown) => void;
}

/**
 * Exactly one indexer at a time: the leader holds a session-level pg_try_advisory_lock on a dedicated
 * pooled connection for as long as it leads. Postgres releases the lock when that session ends, so
 * when the leader's process dies another replica takes the lock on its next attempt (intervalMs).
 * PGlite is one process's own database: that process always leads.
 */
export function createLeaderElection(options: LeaderOptions): LeaderElection {
  const { database, name } = options;
  const intervalMs = options.intervalMs ?? 1_000;
  let leader = false;

  async function lead(term: (signal: AbortSignal) => Promise<void>, outer: AbortSignal) {
    const lost = new AbortController();
    const abort = () => lost.abort();
    outer.addEventListener("abort", abort, { once: true });
    // Stopped while the lock was being taken: a signal that has aborted fires no listener again.
    if (outer.aborted) lost.abort();
    leader = true;
    try {
      await term(lost.signal);
    } finally {
      leader = false;
      outer.removeEventListener("abort", abort);
      lost.abort();
    }
  }

  return {
    isLeader: () => leader,
    async run(term, signal) {
      if (database.kind === "pglite") {
        await lead(term, signal);
        return;
      }
      while (!signal.aborted) {
        try {
          await database.db.connection().execute(async (conn) => {
            const { rows } = await sql<{ locked: boolean }>`
              select pg_try_advisory_lock(hashtext(${name})) as locked`.execute(conn);
            if (!rows[0]?.locked) return;
            const lost = new AbortController();
            const heartbeat = setInterval(() => {
              sql`select 1`.execute(conn).catch(() => lost.abort());
            }, intervalMs);
            const combined = AbortSignal.any([signal, lost.signal]);
            try {
              await lead(term, combined);
            } finally {
              clearInterval(heartbeat);
              await sql`select pg_advisory_unlock(hashtext(${name}))`.execute(conn).catch(() => {});
            }
          });
        } catch (error) {
          options.onError?.(error);
        }
        if (signal.aborted) break;
        await options.onFollow?.().catch((error) => options.onError?.(error));
        await sleep(intervalMs, signal);
      }
    },
  };
}

/** A term that runs whenever this replica leads, from `start()` until `stop()`. */
export interface LeaderTask {
  /** Starts taking part in the election; a second call while running does nothing. */
  start(): void;
  /** Leaves the election and waits until the term (if it was leading) has ended. */
  stop(): Promise<void>;
  /** Started and not stopped (whether it leads or follows). */
  isRunning(): boolean;
  isLeader(): boolean;
}

/**
 * The indexer, the notifications deliverer and the receipts anchorer each run one loop on one replica at a
 * time: this is their shared start and stop around `createLeaderElection`. A term that throws ends the task
 * (`onFailed` says why); elections that fail are retried (`onError`).
 */
export function createLeaderTask(
  options: LeaderOptions & { term: (signal: AbortSignal) => Promise<void>; onFailed: (error: unknown) => void },
): LeaderTask {
  const election = createLeaderElection(options);
  let running: { controller: AbortController; done: Promise<void> } | undefined;
  return {
    start() {
      if (running) return;
      const controller = new AbortController();
      running = { controller, done: election.run(options.term, controller.signal).catch(options.onFailed) };
    },
    async stop() {
      if (!running) return;
      running.controller.abort();
      await running.done;
      running = undefined;
    },
    isRunning: () => running !== undefined,
    isLeader: () => election.isLeader(),
  };
}
