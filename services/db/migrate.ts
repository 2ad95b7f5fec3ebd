import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Kysely } from "kysely";
import { FileMigrationProvider, Migrator } from "kysely/migration";
import { AppError } from "../shared/errors.ts";
import { installLedgerFunctions } from "./ledger/install.ts";

const migrationFolder = fileURLToPath(new URL("../../migrations/", import.meta.url));

/**
 * Applies every pending migration in migrations/ (forward only), then defines the ledger's functions
 * from their sources (services/db/ledger/*.sql). Kysely's Migrator takes a lock, so several replicas
 * starting at once apply each migration exactly once.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run on Kysely<any> by design (they must not import the app's types)
export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder }) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "(before any migration ran)";
    const reason = error instanceof Error ? error.message : String(error);
    throw new AppError("DATABASE_ERROR", `migration ${failed} failed: ${reason}`, { cause: error });
  }
  await installLedgerFunctions(db).catch((cause: unknown) => {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new AppError("DATABASE_ERROR", `defining the ledger's functions failed: ${reason}`, { cause });
  });
}
