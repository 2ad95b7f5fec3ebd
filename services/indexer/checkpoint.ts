import type { Kysely, Transaction } from "kysely";
import type { Database } from "../db/schema.ts";
import { AppError } from "../shared/errors.ts";

/** The id of the indexer's one checkpoint row. */
export const CHECKPOINT_ID = "governance";

/** Where the index stands: the last block fully applied. */
export interface Checkpoint {
  block: number;
  hash: string;
  /** False for the virtual starting point (the block before the deployment), not yet written. */
  persisted: boolean;
}

export async function readCheckpoint(db: Kysely<Database>) {
  return db.selectFrom("indexer_checkpoint").selectAll().where("id", "=", CHECKPOINT_ID).executeTakeFirst();
}

/**
 * Locks the checkpoint row for this transaction and checks that it is still where this indexer left
 * it. If another indexer moved it (this one lost leadership mid-range), the range is refused, so no
 * two writers can both apply a range. Returns the indexed total supply.
 */
export async function claimCheckpoint(trx: Transaction<Database>, expected: Checkpoint): Promise<bigint> {
  const row = await trx
    .selectFrom("indexer_checkpoint")
    .select(["block_number", "block_hash", "total_supply"])
    .where("id", "=", CHECKPOINT_ID)
    .forUpdate()
    .executeTakeFirst();
  const matches = row
    ? expected.persisted && row.block_number === expected.block && row.block_hash === expected.hash
    : !expected.persisted;
  if (!matches) {
    throw new AppError(
      "INDEXER_CONFLICT",
      `checkpoint moved to block ${row?.block_number ?? "none"} while this indexer expected ${expected.block}`,
    );
  }
  return BigInt(row?.total_supply ?? 0);
}

export async function recordError(db: Kysely<Database>, message: string): Promise<void> {
  await db
    .updateTable("indexer_checkpoint")
    .set({ last_error: message, last_error_at: new Date() })
    .where("id", "=", CHECKPOINT_ID)
    .execute();
}

/**
 * The indexer's heartbeat while it waits at the head: the checkpoint row says the index was current
 * at this moment. The gateway and /readyz judge staleness by `updated_at`, so an idle chain (no new
 * blocks) must not look like a stalled indexer. Only the checkpoint this indexer still holds is touched.
 */
export async function recordHeartbeat(db: Kysely<Database>, at: Checkpoint, head: number): Promise<void> {
  await db
    .updateTable("indexer_checkpoint")
    .set({ head_block: head, updated_at: new Date(), last_error: null, last_error_at: null })
    .where("id", "=", CHECKPOINT_ID)
    .where("block_number", "=", at.block)
    .where("block_hash", "=", at.hash)
    .execute();
}
