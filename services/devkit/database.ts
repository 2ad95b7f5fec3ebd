import { randomBytes } from "node:crypto";
import pg from "pg";

/** The machine's Postgres (trust auth); override with TEST_DATABASE_URL. */
export const adminUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * A fresh, empty Postgres database for one test file (or benchmark), dropped on teardown: no shared
 * state between files, and files can run in parallel.
 */
export async function createTestDatabase(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const name = `commons_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.end();
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
