import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { sql } from "kysely";
import { type DatabaseHandle, openDatabase } from "../db/connection.ts";
import { readCheckpoint } from "../indexer/checkpoint.ts";
import { AppError } from "../shared/errors.ts";

/**
 * Where the service keeps state under DATA_DIR. The development chain lives in memory and starts
 * fresh on every start, so everything that describes it (its database in PGlite, its deployment file)
 * lives in `dev-chain/` and starts empty with it; `pglite/` holds the database of a real chain
 * (RPC_URL) and survives restarts.
 */
export function dataPaths(dataDir: string) {
  const devChain = join(dataDir, "dev-chain");
  return {
    devChain,
    devPglite: join(devChain, "pglite"),
    devDeployment: join(devChain, "deployment.json"),
    pglite: join(dataDir, "pglite"),
  };
}

/**
 * Opens the development chain's PGlite database emptied of everything an earlier chain left (the whole
 * schema: index, keys, ledger), ready to be migrated. The cluster itself is kept, because creating one
 * takes PGlite seconds; an unreadable one is recreated.
 */
export async function openFreshDevDatabase(dataDir: string): Promise<DatabaseHandle> {
  const folder = dataPaths(dataDir).devPglite;
  await mkdir(folder, { recursive: true });
  let database: DatabaseHandle;
  try {
    database = await openDatabase({ dataDir: folder });
  } catch {
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder, { recursive: true });
    database = await openDatabase({ dataDir: folder });
  }
  await sql`drop schema if exists public cascade`.execute(database.db);
  await sql`create schema public`.execute(database.db);
  return database;
}

/**
 * Refuses a database whose index belongs to another chain: serving it would enforce policies that do
 * not exist on this chain. A fresh development chain never matches a stored index (its blocks are new
 * even where its addresses repeat), so with the development chain the database must hold no index yet.
 */
export async function assertIndexMatches(
  database: DatabaseHandle,
  chain: { chainId: number; fresh: boolean },
): Promise<void> {
  const checkpoint = await readCheckpoint(database.db);
  if (!checkpoint) return;
  if (chain.fresh) {
    throw new AppError(
      "CONFIG_INVALID",
      `DATABASE_URL already holds an index (up to block ${checkpoint.block_number}) of an earlier chain, but the ` +
        "development chain starts fresh on every start: point DATABASE_URL at an empty database, " +
        "or set RPC_URL and DEPLOYMENT_FILE to the chain that index belongs to",
    );
  }
  if (checkpoint.chain_id !== chain.chainId) {
    throw new AppError(
      "CONFIG_INVALID",
      `the database holds an index of chain ${checkpoint.chain_id}, but RPC_URL serves chain ${chain.chainId}`,
    );
  }
}
