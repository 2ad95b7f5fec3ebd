import type { AbstractProvider, JsonRpcProvider, Provider } from "ethers";
import type { Logger } from "pino";
import type { Deployment } from "../chain/deployment.ts";
import { createChainReader } from "../chain/rpc.ts";
import type { DatabaseHandle } from "../db/connection.ts";
import type { IndexOutbox } from "../notifications/outbox.ts";
import { AppError } from "../shared/errors.ts";
import { sleep } from "./abortable-sleep.ts";
import { readCheckpoint } from "./checkpoint.ts";
import { createLeaderTask } from "./leader.ts";
import { runSync, type SyncProgress } from "./sync.ts";

export interface SyncStatus {
  indexedBlock: number;
  headBlock: number;
  lag: number;
  lastError: string | null;
  leader: boolean;
}

export interface Indexer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Resolves once the checkpoint reaches `block` (or the head at call time, less the confirmations);
   * fails with POLICY_STATE_STALE, saying where the index stands, after `timeoutMs` (default 60 s).
   */
  waitForBlock(block?: number, timeoutMs?: number): Promise<void>;
  status(): SyncStatus;
}

export interface IndexerDeps {
  database: DatabaseHandle;
  provider: JsonRpcProvider | AbstractProvider | Provider;
  deployment: Deployment;
  /** Blocks to stay behind the head (0 on the development chain). */
  confirmations?: number;
  pollIntervalMs?: number;
  /** Largest block range asked of eth_getLogs; halved while the node refuses it. */
  maxRange?: number;
  logger?: Logger;
  /** How often a follower tries to become the leader (ms). */
  leaderIntervalMs?: number;
  /** The notifications' outbox, written in the index's transactions; unset: notifications off. */
  outbox?: IndexOutbox;
}

/**
 * The governance indexer of one service replica. `start` returns at once; the replica indexes while it
 * holds the leader lock and follows the shared checkpoint otherwise.
 */
export function createIndexer(deps: IndexerDeps): Indexer {
  const confirmations = deps.confirmations ?? 0;
  const pollIntervalMs = deps.pollIntervalMs ?? 1_000;
  const progress: SyncProgress = { indexedBlock: 0, headBlock: 0, lastError: null, events: 0 };
  const waiters = new Set<() => void>();

  const reader = createChainReader({
    provider: deps.provider as Provider,
    deployment: deps.deployment,
    onRetry: (error) => {
      progress.lastError = error.message;
    },
  });
  const task = createLeaderTask({
    database: deps.database,
    name: `commons-indexer:${deps.deployment.chainId}:${deps.deployment.contracts.governor}`,
    ...(deps.leaderIntervalMs ? { intervalMs: deps.leaderIntervalMs } : {}),
    onFollow: async () => {
      await refreshFromDatabase();
      for (const wake of waiters) wake();
    },
    onError: (error) => deps.logger?.warn({ err: error }, "leader election failed; retrying"),
    term: (signal) =>
      runSync(
        {
          database: deps.database,
          reader,
          deployment: deps.deployment,
          confirmations,
          pollIntervalMs,
          maxRange: deps.maxRange ?? 2_000,
          progress,
          logger: deps.logger,
          outbox: deps.outbox,
          onCommitted: () => {
            for (const wake of waiters) wake();
          },
        },
        signal,
      ),
    onFailed: (error) => {
      progress.lastError = error instanceof Error ? error.message : String(error);
      deps.logger?.error({ err: error }, "indexer stopped");
    },
  });

  async function refreshFromDatabase() {
    const row = await readCheckpoint(deps.database.db);
    if (!row) return;
    progress.indexedBlock = row.block_number;
    progress.headBlock = Math.max(progress.headBlock, row.head_block);
    progress.lastError = row.last_error;
  }

  return {
    async start() {
      task.start();
    },

    async stop() {
      await task.stop();
      for (const wake of waiters) wake();
    },

    async waitForBlock(block, timeoutMs = 60_000) {
      const target = block ?? (await reader.headNumber()) - confirmations;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (!task.isLeader()) await refreshFromDatabase();
        if (progress.indexedBlock >= target) return;
        if (!task.isRunning()) throw new AppError("INTERNAL", `indexer is not running (waiting for block ${target})`);
        if (Date.now() > deadline) {
          throw new AppError(
            "POLICY_STATE_STALE",
            `the index did not reach block ${target} within ${timeoutMs} ms: it is at ${progress.indexedBlock}` +
              (progress.lastError ? ` (last error: ${progress.lastError})` : ""),
          );
        }
        let wake = () => {};
        const woken = new Promise<void>((resolve) => {
          wake = resolve;
          waiters.add(resolve);
        });
        await Promise.race([woken, sleep(Math.max(50, pollIntervalMs))]);
        waiters.delete(wake);
      }
    },

    status() {
      return {
        indexedBlock: progress.indexedBlock,
        headBlock: progress.headBlock,
        lag: Math.max(0, progress.headBlock - progress.indexedBlock),
        lastError: progress.lastError,
        leader: task.isLeader(),
      };
    },
  };
}
