import { sql } from "kysely";
import t from "tap";
import { type DatabaseHandle, notifyIn, openDatabase } from "../../services/db/connection.ts";
import { migrateToLatest } from "../../services/db/migrate.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { untilTrue } from "../../services/devkit/until.ts";
import { isAppError } from "../../services/shared/errors.ts";

async function both(t: { teardown(fn: () => unknown): void }): Promise<DatabaseHandle[]> {
  const postgres = await openDatabase({ url: await createTestDatabase(t), poolSize: 2 });
  const pglite = await openDatabase({});
  t.teardown(async () => {
    await postgres.close();
    await pglite.close();
  });
  return [postgres, pglite];
}

t.test("Postgres and PGlite read int8 as numbers and numeric as exact strings, identically", async (t) => {
  for (const database of await both(t)) {
    const { rows } = await sql<{ block: unknown; amount: unknown; purposes: unknown }>`
      select 9007199254740991::int8 as block,
             115792089237316195423570985008687907853269984665640564039457584007913129639935::numeric(78, 0) as amount,
             array['research', 'education']::text[] as purposes`.execute(database.db);
    t.same(
      rows[0],
      {
        block: 9007199254740991,
        amount: "115792089237316195423570985008687907853269984665640564039457584007913129639935",
        purposes: ["research", "education"],
      },
      database.kind,
    );
  }
});

t.test("migrations apply on both, and again as a no-op", async (t) => {
  for (const database of await both(t)) {
    await migrateToLatest(database.db);
    await migrateToLatest(database.db);
    const tables = await database.db.introspection.getTables();
    t.ok(
      ["proposals", "votes", "accounts", "account_history", "indexer_checkpoint"].every((name) =>
        tables.some((table) => table.name === name),
      ),
      `${database.kind} has the index tables`,
    );
  }
});

t.test("a notification sent in a transaction arrives after commit, never after rollback", async (t) => {
  for (const database of await both(t)) {
    const received: string[] = [];
    let arrived = () => {};
    const committed = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    // listen() resolves once LISTEN is in place, so nothing sent after it can be missed.
    const unlisten = await database.listen("commons_test", (payload) => {
      received.push(payload);
      if (payload === "committed") arrived();
    });
    t.teardown(unlisten);
    await database.db
      .transaction()
      .execute(async (trx) => {
        await notifyIn(trx, "commons_test", "rolled-back");
        throw new Error("roll back");
      })
      .catch(() => {});
    await database.db.transaction().execute((trx) => notifyIn(trx, "commons_test", "committed"));
    await committed;
    t.same(received, ["committed"], database.kind);
  }
});

t.test("an unreachable Postgres is a DATABASE_ERROR", async (t) => {
  const error = await openDatabase({ url: "postgres://postgres@127.0.0.1:1/none" }).catch((e: unknown) => e);
  t.ok(isAppError(error, "DATABASE_ERROR"));
});

t.test("a Postgres listener whose connection drops reconnects, reports the gap, and hears what follows", async (t) => {
  const database = await openDatabase({ url: await createTestDatabase(t), poolSize: 2 });
  t.teardown(() => database.close());
  const received: string[] = [];
  let gaps = 0;
  const unlisten = await database.listen(
    "commons_test",
    (payload) => received.push(payload),
    () => gaps++,
  );
  t.teardown(unlisten);
  await database.notify("commons_test", "before");
  await untilTrue(() => received.includes("before"), "the notification sent before the cut");

  // What an operator's restart of Postgres or a network cut does to the listening connection.
  const { rows } = await sql<{ killed: boolean }>`
    select pg_terminate_backend(pid) as killed from pg_stat_activity
    where datname = current_database() and query like 'LISTEN%'`.execute(database.db);
  t.same(
    rows.map((r) => r.killed),
    [true],
    "the one listening connection was cut",
  );

  // Sent again until heard: a notification sent while the listener reconnects is lost by design.
  await untilTrue(
    async () => {
      await database.notify("commons_test", "after");
      return received.includes("after");
    },
    "a notification after the cut",
    { intervalMs: 50 },
  );
  t.ok(received.includes("before"), "heard before the cut");
  t.ok(received.includes("after"), "and again after it, without anyone calling listen() again");
  t.equal(gaps, 1, "the subscriber was told once that it may have missed notifications");
});
