import type { Logger } from "pino";
import { type Deployment, governanceOf } from "../chain/deployment.ts";
import { decodeLogs, type GovernanceEvent } from "../chain/events.ts";
import type { BlockHeader, ChainReader, TransactionParties } from "../chain/rpc.ts";
import { type DatabaseHandle, notifyIn, notifyManyIn } from "../db/connection.ts";
import type { IndexOutbox } from "../notifications/outbox.ts";
import { AppError, isAppError } from "../shared/errors.ts";
import { backoffMs, sleep } from "./abortable-sleep.ts";
import { applyRange, KEPT_BLOCKS, needsTransaction } from "./apply-range.ts";
import {
  CHECKPOINT_ID,
  type Checkpoint,
  claimCheckpoint,
  readCheckpoint,
  recordError,
  recordHeartbeat,
} from "./checkpoint.ts";
import { readQuorums } from "./existing-governor.ts";
import { GOVERNANCE_CHANNEL, type GovernanceNotification, POLICY_CHANNEL } from "./notifications.ts";
import { rollbackTo } from "./rollback.ts";

interface RangeRead {
  events: GovernanceEvent[];
  blocks: Map<number, BlockHeader>;
  transactions: Map<string, TransactionParties>;
  quorums?: Map<string, bigint>;
}

/** What the sync loop reports as it goes (the indexer's status). */
export interface SyncProgress {
  indexedBlock: number;
  headBlock: number;
  lastError: string | null;
  /** Events applied since start (for throughput figures). */
  events: number;
}

export interface SyncOptions {
  database: DatabaseHandle;
  reader: ChainReader;
  deployment: Deployment;
  confirmations: number;
  pollIntervalMs: number;
  maxRange: number;
  progress: SyncProgress;
  onCommitted?: () => void;
  logger?: Logger | undefined;
  /** Writes the notifications' outbox inside each range's and rollback's transaction; unset: none. */
  outbox?: IndexOutbox | undefined;
}

/**
 * One leadership term of the indexer: backfill in block ranges, then follow the head, until `signal`
 * aborts. Each step is either a range (applied in one transaction with its checkpoint) or a rollback
 * to the common ancestor after a reorg. A failed step is retried after backoff; none is ever skipped.
 */
export async function runSync(options: SyncOptions, signal: AbortSignal): Promise<void> {
  const { database, reader, deployment, progress } = options;
  const db = database.db;
  let range = options.maxRange;
  let failures = 0;
  // The next range's logs and headers, read while this range is written: the node and the database
  // work at the same time. Whatever it returns is checked like any fresh read before it is applied.
  let ahead: { from: number; to: number; read: Promise<RangeRead> } | undefined;

  const readRange = async (from: number, to: number, base?: number): Promise<RangeRead> => {
    const events = decodeLogs(deployment, await reader.logs(from, to));
    const needed = new Set([from, to, ...events.map((e) => e.blockNumber)]);
    if (base !== undefined) needed.add(base);
    const [blocks, transactions] = await Promise.all([
      reader.blocks([...needed]),
      reader.transactions(events.filter(needsTransaction).map((e) => e.txHash)),
    ]);
    if (governanceOf(deployment).origin === "ours") return { events, blocks, transactions };
    return { events, blocks, transactions, quorums: await readQuorums(reader, deployment, events, blocks, to) };
  };

  const start = async (): Promise<Checkpoint> => {
    const row = await readCheckpoint(db);
    if (row) {
      progress.indexedBlock = row.block_number;
      return { block: row.block_number, hash: row.block_hash, persisted: true };
    }
    const base = await reader.block(Math.max(0, deployment.deployBlock - 1));
    return { block: base.number, hash: base.hash, persisted: false };
  };

  while (!signal.aborted) {
    try {
      const cp = await start();
      const head = await reader.headNumber();
      progress.headBlock = head;
      const target = head - options.confirmations;
      if (cp.block >= target) {
        // At the tip: has the chain replaced the block we stand on?
        if (cp.persisted && (cp.block > head || (await reader.block(cp.block)).hash !== cp.hash)) {
          await rollBack(options, cp, head);
          continue;
        }
        if (cp.persisted) await recordHeartbeat(db, cp, head);
        progress.lastError = null;
        failures = 0;
        await sleep(options.pollIntervalMs, signal);
        continue;
      }
      const from = cp.block + 1;
      const prefetched = ahead?.from === from && ahead.to <= target ? ahead : undefined;
      ahead = undefined;
      const to = prefetched?.to ?? Math.min(target, from + range - 1);
      let read: RangeRead;
      try {
        read = await (prefetched?.read ?? readRange(from, to, cp.persisted ? undefined : cp.block));
      } catch (error) {
        if (isAppError(error, "RPC_RANGE_REFUSED") && range > 1) {
          range = Math.max(1, Math.floor(range / 2));
          options.logger?.debug({ range }, "node refused the range: shrinking it");
          continue;
        }
        throw error;
      }
      const { events, blocks, transactions, quorums } = read;
      if (to < target) {
        const next = { from: to + 1, to: Math.min(target, to + range) };
        ahead = { ...next, read: readRange(next.from, next.to) };
        ahead.read.catch(() => {}); // its failure surfaces when (and if) it is used
      }
      if ((blocks.get(from) as BlockHeader).parentHash !== cp.hash) {
        if (cp.persisted) await rollBack(options, cp, head);
        continue;
      }
      for (const e of events) {
        if (blocks.get(e.blockNumber)?.hash !== e.blockHash) {
          throw new AppError("RPC_ERROR", `block ${e.blockNumber} changed while range ${from}..${to} was read`);
        }
      }
      const effects = await db.transaction().execute(async (trx) => {
        const totalSupply = await claimCheckpoint(trx, cp);
        const result = await applyRange(trx, deployment, {
          checkpointId: CHECKPOINT_ID,
          chainId: deployment.chainId,
          from,
          to,
          head,
          events,
          blocks,
          transactions,
          totalSupply,
          ...(quorums ? { quorums } : {}),
        });
        await options.outbox?.afterRange(trx, { from, to, events, blocks });
        if (result.policyChanged) await notifyIn(trx, POLICY_CHANNEL, JSON.stringify({ block: to }));
        await notifyManyIn(
          trx,
          GOVERNANCE_CHANNEL,
          result.governance.map((n) => JSON.stringify(n)),
        );
        return result;
      });
      progress.indexedBlock = to;
      progress.events += events.length;
      progress.lastError = null;
      failures = 0;
      range = Math.min(options.maxRange, range * 2);
      options.onCommitted?.();
      if (effects.governance.length > 0 || effects.policyChanged) {
        options.logger?.debug({ from, to, events: events.length }, "range indexed");
      }
    } catch (error) {
      ahead = undefined;
      if (signal.aborted) break;
      const message = error instanceof Error ? error.message : String(error);
      progress.lastError = message;
      options.logger?.warn({ err: error }, "indexer step failed; retrying");
      await recordError(db, message).catch(() => {});
      if (isAppError(error, "REORG_TOO_DEEP")) throw error;
      await sleep(backoffMs(failures++), signal);
    }
  }
}

/** Finds the newest stored block the chain still has, and rolls the index back to it. */
async function rollBack(options: SyncOptions, cp: Checkpoint, head: number): Promise<void> {
  const { database, reader } = options;
  const stored = await database.db
    .selectFrom("chain_blocks")
    .selectAll()
    .orderBy("number", "desc")
    .limit(KEPT_BLOCKS)
    .execute();
  let ancestor: BlockHeader | undefined;
  for (const b of stored) {
    if (b.number > head) continue;
    const current = await reader.block(b.number);
    if (current.hash === b.hash) {
      ancestor = current;
      break;
    }
  }
  if (!ancestor) {
    throw new AppError("REORG_TOO_DEEP", `no stored block below ${cp.block} is still on the chain`);
  }
  const found = ancestor;
  options.logger?.info({ from: cp.block, to: found.number }, "reorg: rolling the index back");
  await database.db.transaction().execute(async (trx) => {
    await claimCheckpoint(trx, cp);
    const changes: GovernanceNotification[] = await rollbackTo(trx, CHECKPOINT_ID, found, {
      derivesQuorums: governanceOf(options.deployment).origin === "ours",
    });
    await options.outbox?.afterRollback(trx, found.number);
    await notifyIn(trx, POLICY_CHANNEL, JSON.stringify({ block: found.number }));
    await notifyManyIn(
      trx,
      GOVERNANCE_CHANNEL,
      changes.map((n) => JSON.stringify(n)),
    );
  });
  options.progress.indexedBlock = found.number;
  options.onCommitted?.();
}
