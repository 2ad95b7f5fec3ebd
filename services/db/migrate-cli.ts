/**
 * `npm run migrate`: applies pending migrations to DATABASE_URL (or the real chain's PGlite database
 * under DATA_DIR, where the service keeps it) and exits. The development chain's database is recreated
 * at every start, so there is nothing to migrate for it. The service also migrates at start-up; this is for operators who migrate before a rollout.
 */
import { dataPaths } from "../runtime/storage.ts";
import { loadConfig } from "../shared/config.ts";
import { openDatabase } from "./connection.ts";
import { migrateToLatest } from "./migrate.ts";

try {
  const config = loadConfig();
  const folder = dataPaths(config.DATA_DIR).pglite;
  const database = await openDatabase(config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: folder });
  try {
    await migrateToLatest(database.db);
    console.log(`migrated ${database.kind === "postgres" ? "Postgres" : `PGlite in ${folder}`}`);
  } finally {
    await database.close();
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
