import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PostgresDialect, sql, type Transaction } from "kysely";
import { PGliteDialect } from "kysely-pglite-dialect";
import pRetry from "p-retry";
import pg from "pg";
import { AppError } from "../shared/errors.ts";
import type { Database } from "./schema.ts";

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: "postgres" | "pglite";
  /**
   * LISTEN on Postgres; PGlite's own listen within the process. Returns an unsubscribe. A Postgres
   * listener whose connection drops reconnects by itself and then calls `onGap`: notifications sent
   * while it was away are lost, so a subscriber that keeps state reloads it there.
   */
  listen(channel: string, onPayload: (payload: string) => void, onGap?: () => void): Promise<() => Promise<void>>;
  /** pg_notify(channel, payload). Also usable inside a transaction via notifyIn(trx, ...). */
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Both drivers read int8 as a JS number (block numbers and Unix times, far below 2^53) and numeric as
 * the exact decimal string (uint256 amounts), so that rows look the same whichever database is behind.
 */
const pgTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID) return (value: string) => Number(value);
    if (oid === NUMERIC_OID) return (value: string) => value;
    return pg.types.getTypeParser(oid, format ?? "text");
  },
} as unknown as pg.CustomTypesConfig;

const pgliteParsers = {
  [INT8_OID]: (value: string) => Number(value),
  [NUMERIC_OID]: (value: string) => value,
};

/**
 * Opens the database: real Postgres when `url` is set, otherwise PGlite in `dataDir` (in memory when
 * that is unset too).
 */
export async function openDatabase(options: {
  url?: string;
  dataDir?: string;
  poolSize?: number;
}): Promise<DatabaseHandle> {
  return options.url ? openPostgres(options.url, options.poolSize ?? 10) : openPglite(options.dataDir);
}

/** Queues a notification inside `trx`: Postgres delivers it only if and when the transaction commits. */
export async function notifyIn(trx: Transaction<Database> | Kysely<Database>, channel: string, payload: string) {
  await sql`select pg_notify(${channel}, ${payload})`.execute(trx);
}

/** Queues many notifications on one channel in a single statement (one round trip per range). */
export async function notifyManyIn(
  trx: Transaction<Database> | Kysely<Database>,
  channel: string,
  payloads: string[],
): Promise<void> {
  if (payloads.length === 0) return;
  await sql`select pg_notify(${channel}, p) from unnest(${payloads}::text[]) as p`.execute(trx);
}

async function openPostgres(url: string, poolSize: number): Promise<DatabaseHandle> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types: pgTypes });
  // A client that loses its connection (Postgres restarted, its backend terminated, the network cut)
  // emits "error"; unheard, that would end the process. Idle clients are the pool's: it drops them. A
  // checked-out client (a transaction between statements, the indexer leader's lock session) has no
  // listener of the pool's: its holder learns of the loss from its next query, which fails, and the
  // pool drops the client when it is released. The next query gets a new connection.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  try {
    const client = await pool.connect();
    client.release();
  } catch (cause) {
    await pool.end();
    throw new AppError("DATABASE_ERROR", `cannot connect to Postgres at ${redactUrl(url)}`, { cause });
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const listeners = createPgListener(url);
  return {
    db,
    kind: "postgres",
    listen: listeners.listen,
    notify: (channel, payload) => notifyIn(db, channel, payload),
    async close() {
      await listeners.close();
      await db.destroy();
    },
  };
}

/**
 * One dedicated client carries every LISTEN of this handle. When its connection ends without close(),
 * it reconnects with backoff (forever: a replica must not go deaf), LISTENs again on every channel
 * and tells each subscriber that it may have missed notifications.
 */
function createPgListener(url: string) {
  const subscribers = new Map<string, Set<{ onPayload: (payload: string) => void; onGap?: () => void }>>();
  let client: Promise<pg.Client> | undefined;
  let closed = false;

  const connect = (): Promise<pg.Client> => {
    if (client) return client;
    const connecting = (async () => {
      const c = new pg.Client({ connectionString: url });
      let ready = false;
      c.on("error", () => {});
      c.on("notification", (message) => {
        for (const s of subscribers.get(message.channel) ?? []) s.onPayload(message.payload ?? "");
      });
      // Only a connection that was up goes back to reconnect(); a failed attempt is retried by it.
      c.on("end", () => {
        if (!ready || client !== connecting) return;
        client = undefined;
        if (!closed) void reconnect();
      });
      try {
        await c.connect();
        for (const channel of subscribers.keys()) await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      } catch (error) {
        await c.end().catch(() => {});
        throw error;
      }
      ready = true;
      return c;
    })();
    client = connecting;
    connecting.catch(() => {
      if (client === connecting) client = undefined;
    });
    return connecting;
  };

  const reconnect = () =>
    pRetry(connect, {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 100,
      maxTimeout: 5_000,
      shouldRetry: () => !closed,
    })
      .then(() => {
        for (const set of subscribers.values()) for (const s of set) s.onGap?.();
      })
      .catch(() => {});

  return {
    async listen(channel: string, onPayload: (payload: string) => void, onGap?: () => void) {
      const c = await connect();
      const subscriber = { onPayload, ...(onGap ? { onGap } : {}) };
      let set = subscribers.get(channel);
      if (!set) {
        set = new Set();
        subscribers.set(channel, set);
        await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      }
      set.add(subscriber);
      return async () => {
        const current = subscribers.get(channel);
        current?.delete(subscriber);
        if (current && current.size === 0) {
          subscribers.delete(channel);
          const live = await client?.catch(() => undefined);
          await live?.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => {});
        }
      };
    },
    async close() {
      closed = true;
      const live = await client?.catch(() => undefined);
      await live?.end().catch(() => {});
    },
  };
}

async function openPglite(dataDir: string | undefined): Promise<DatabaseHandle> {
  // PGlite creates its own folder but not the ones above it.
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  const pglite = new PGlite(dataDir, { parsers: pgliteParsers });
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: "pglite",
    async listen(channel, onPayload) {
      const unlisten = await pglite.listen(channel, onPayload);
      return () => unlisten();
    },
    notify: (channel, payload) => notifyIn(db, channel, payload),
    async close() {
      await db.destroy();
    },
  };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}
