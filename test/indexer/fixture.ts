import type { Provider } from "ethers";
import type { Kysely } from "kysely";
import { type DatabaseHandle, openDatabase } from "../../services/db/connection.ts";
import { migrateToLatest } from "../../services/db/migrate.ts";
import type { Database } from "../../services/db/schema.ts";
import type { Chain } from "../../services/devkit/chain.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { createIndexer, type Indexer, type IndexerDeps } from "../../services/indexer/indexer.ts";

type Teardown = { teardown(fn: () => unknown): void };

/** A migrated database: a fresh Postgres database, or PGlite in memory. */
export async function migratedDatabase(t: Teardown, kind: "postgres" | "pglite" = "postgres") {
  const url = kind === "postgres" ? await createTestDatabase(t) : undefined;
  const database = await openDatabase(url ? { url, poolSize: 4 } : {});
  t.teardown(() => database.close());
  await migrateToLatest(database.db);
  return { database, url };
}

/** An indexer on the test's chain, stopped on teardown. */
export function startIndexer(
  t: Teardown,
  database: DatabaseHandle,
  chain: Pick<Chain, "deployment"> & { provider: Provider | Chain["provider"] },
  options: Partial<IndexerDeps> = {},
): Indexer {
  const indexer = createIndexer({
    database,
    provider: chain.provider as Provider,
    deployment: chain.deployment,
    pollIntervalMs: 20,
    leaderIntervalMs: 200,
    ...options,
  });
  t.teardown(() => indexer.stop());
  void indexer.start();
  return indexer;
}

/**
 * Every domain row of the index, in a stable order: what must be identical between two indexers of
 * the same chain however they got there (ranges, crashes, faults, reorgs). The sync machinery
 * (checkpoint, stored block hashes) is left out: which hashes are kept depends on range boundaries.
 */
export async function indexRows(db: Kysely<Database>) {
  return {
    proposals: await db.selectFrom("proposals").selectAll().orderBy("id").execute(),
    proposal_events: await db
      .selectFrom("proposal_events")
      .selectAll()
      .orderBy("block_number")
      .orderBy("log_index")
      .execute(),
    votes: await db.selectFrom("votes").selectAll().orderBy("proposal_id").orderBy("voter").execute(),
    accounts: await db.selectFrom("accounts").selectAll().orderBy("address").execute(),
    account_history: await db
      .selectFrom("account_history")
      .selectAll()
      .orderBy("address")
      .orderBy("block_number")
      .execute(),
    policy_versions: await db
      .selectFrom("policy_versions")
      .selectAll()
      .orderBy("model_id")
      .orderBy("version")
      .execute(),
    grants: await db.selectFrom("grants").selectAll().orderBy("grant_id").execute(),
    community_pool_versions: await db
      .selectFrom("community_pool_versions")
      .selectAll()
      .orderBy("block_number")
      .orderBy("log_index")
      .execute(),
    pool_eligibility_versions: await db
      .selectFrom("pool_eligibility_versions")
      .selectAll()
      .orderBy("block_number")
      .orderBy("log_index")
      .execute(),
    governor_settings: await db
      .selectFrom("governor_settings")
      .selectAll()
      .orderBy("block_number")
      .orderBy("log_index")
      .execute(),
    total_supply: (await db.selectFrom("indexer_checkpoint").select("total_supply").executeTakeFirst())?.total_supply,
  };
}

/** The rows of a fresh, uninterrupted index of `chain` (into a new database). */
export async function freshIndexRows(t: Teardown, chain: Parameters<typeof startIndexer>[2]) {
  const { database } = await migratedDatabase(t);
  const indexer = startIndexer(t, database, chain);
  await indexer.waitForBlock();
  await indexer.stop();
  return indexRows(database.db);
}
