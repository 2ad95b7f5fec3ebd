/**
 * `npm run migrate`: applies pending migrations to DATABASE_URL (or the PGlite folder DATA_DIR) and
 * exits. The service also migrates at start-up; this is for operators who migrate before a rollout.
 */
import { loadConfig } from "../shared/config.ts";
import { openDatabase } from "./connection.ts";
import { migrateToLatest } from "./migrate.ts";

try {
  const config = loadConfig();
  const database = await openDatabase(
    config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: config.DATA_DIR },
  );
  try {
    await migrateToLatest(database.db);
    console.log(`migrated ${database.kind === "postgres" ? "Postgres" : `PGlite in ${config.DATA_DIR}`}`);
  } finally {
    await database.close();
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
