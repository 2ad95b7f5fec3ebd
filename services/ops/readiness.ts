import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FileMigrationProvider, Migrator } from "kysely/migration";
import { readCheckpoint } from "../indexer/checkpoint.ts";
import type { Deps } from "../shared/deps.ts";
import { redactSecrets, secretsOf } from "../shared/secrets.ts";

const migrationFolder = fileURLToPath(new URL("../../migrations/", import.meta.url));

export interface Readiness {
  ready: boolean;
  migrated: boolean;
  /** Migrations in migrations/ that this database has not applied. */
  pendingMigrations: string[];
  index: {
    indexedBlock: number | null;
    headBlock: number | null;
    /** Seconds since the indexer last reported progress (the heartbeat the gateway judges staleness by). */
    heartbeatAgeS: number | null;
    /** Older than MAX_POLICY_STALENESS_S: the gateway refuses calls with POLICY_STATE_STALE. */
    stale: boolean;
    lastError: string | null;
  };
}

/**
 * Readiness as /readyz answers it: the schema is migrated and the index is within the staleness bound
 * (the same rule the gateway enforces, so a replica that would refuse every call as stale is not sent
 * traffic). With ALLOW_STALE_POLICY the operator chose to serve on the last known policies, so a stale
 * index alone does not make the replica unready.
 */
export function createReadinessCheck(deps: Pick<Deps, "database" | "config" | "now">): () => Promise<Readiness> {
  const migrator = new Migrator({
    db: deps.database.db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder }),
  });
  // Applied migrations never become pending again while the service runs: check until they are all in.
  let migrated = false;
  const secrets = secretsOf(deps.config);

  return async () => {
    let pendingMigrations: string[] = [];
    if (!migrated) {
      const migrations = await migrator.getMigrations();
      pendingMigrations = migrations.filter((m) => m.executedAt === undefined).map((m) => m.name);
      migrated = pendingMigrations.length === 0;
    }
    const checkpoint = migrated ? await readCheckpoint(deps.database.db) : undefined;
    const heartbeatAgeS = checkpoint ? Math.max(0, (deps.now() - checkpoint.updated_at.getTime()) / 1000) : null;
    const stale = heartbeatAgeS === null || heartbeatAgeS > deps.config.MAX_POLICY_STALENESS_S;
    return {
      ready: migrated && (!stale || deps.config.ALLOW_STALE_POLICY),
      migrated,
      pendingMigrations,
      index: {
        indexedBlock: checkpoint?.block_number ?? null,
        headBlock: checkpoint?.head_block ?? null,
        heartbeatAgeS: heartbeatAgeS === null ? null : Math.round(heartbeatAgeS * 10) / 10,
        stale,
        lastError: checkpoint?.last_error ? redactSecrets(checkpoint.last_error, secrets) : null,
      },
    };
  };
}
