import { type Contract, type Provider, Transaction, type Wallet } from "ethers";
import type { Deployment } from "../chain/deployment.ts";
import { type ChainAnchor, readAnchor, usageAnchorAt } from "../chain/usage-anchor.ts";
import type { DatabaseHandle } from "../db/connection.ts";
import {
  firstReceiptInstant,
  insertBuiltPeriod,
  latestPeriod,
  type PeriodRow,
  periodRecords,
  periodsToWatch,
  updatePeriod,
} from "../db/receipts.ts";
import { sleep } from "../indexer/abortable-sleep.ts";
import { createLeaderTask } from "../indexer/leader.ts";
import { RECEIPT_FORMAT } from "../receipts/encoding.ts";
import { buildPeriod, periodAt, periodBounds } from "../receipts/period.ts";
import type { Logger } from "../shared/logger.ts";

export interface AnchorerDeps {
  database: DatabaseHandle;
  provider: Provider;
  deployment: Deployment;
  /** The anchorer's key, connected to `provider`. */
  wallet: Wallet;
  periodMs: number;
  delayMs: number;
  /** A period's receipts are published at `${uriBase}/receipts/periods/<n>`. */
  uriBase: string;
  /** Blocks on top of an anchoring transaction before its period counts as anchored (at least 1). */
  confirmations: number;
  now: () => number;
  logger: Logger;
  intervalMs?: number;
  /** How many blocks back an anchored period's block is checked for a reorg. */
  reorgDepth?: number;
}

export interface Anchorer {
  /** One pass: builds the periods that closed, sends what is not anchored, watches recent anchors. */
  tick(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Anchors each period's receipts once, from the leader only (a Postgres advisory lock of its own, as the
 * indexer elects its leader). A period goes built → sent → anchored, each step stored before the next is
 * taken, so a replica that dies anywhere leaves a state the next leader resumes from:
 * - built: the tree is stored; nothing sent. Sending first asks the chain whether the period is anchored
 *   (the contract also refuses a second anchor), then signs with the next nonce and stores the signed
 *   transaction before broadcasting it.
 * - sent: the transaction is watched. Mined and successful: anchored. Reverted: the chain is asked again,
 *   and the period goes back to built. Unknown to the node (never broadcast, or dropped by a reorg): the
 *   same signed bytes are broadcast again, unless its nonce was used meanwhile (then back to built).
 * - anchored: the block is checked for `reorgDepth` blocks; a block that changed sends the period back
 *   to sent, so that a transaction the reorg dropped is broadcast again.
 */
export function createAnchorer(deps: AnchorerDeps): Anchorer {
  const { database, provider, logger } = deps;
  const db = database.db;
  const contract: Contract = usageAnchorAt(deps.deployment, deps.wallet);
  const intervalMs = deps.intervalMs ?? 5_000;
  const reorgDepth = deps.reorgDepth ?? 64;
  const confirmations = Math.max(1, deps.confirmations);

  /** Builds and stores every closed period after the last one stored. */
  async function buildClosedPeriods(): Promise<void> {
    const lastClosed = periodAt(deps.now() - deps.delayMs, deps.periodMs) - 1;
    const latest = await latestPeriod(db);
    let next: number;
    if (latest === null) {
      const first = await firstReceiptInstant(db);
      if (first === null) return;
      next = periodAt(first.getTime(), deps.periodMs);
    } else {
      next = latest + 1;
    }
    for (; next <= lastClosed; next++) {
      const { startsAt, endsAt } = periodBounds(next, deps.periodMs);
      const content = buildPeriod(await periodRecords(db, startsAt, endsAt));
      await insertBuiltPeriod(db, {
        period: next,
        startsAt,
        endsAt,
        root: content.tree.root,
        count: content.tree.count,
        totalTokens: content.totalTokens,
        nodes: content.tree.nodes,
        totals: content.totals,
        uri: `${deps.uriBase}/receipts/periods/${next}`,
        format: RECEIPT_FORMAT,
      });
      logger.info({ period: next, receipts: content.tree.count, root: content.tree.root }, "receipts period built");
    }
  }

  /** The period is anchored on chain already: record the transaction that did it. */
  async function adopt(row: PeriodRow, onChain: ChainAnchor): Promise<void> {
    if (onChain.root.toLowerCase() !== row.root.toLowerCase()) {
      logger.error(
        { period: row.period, stored: row.root, anchored: onChain.root },
        "the chain anchors another root for this period than the receipts build: receipts of it will not verify",
      );
    }
    const filter = contract.getEvent("PeriodAnchored")(row.period);
    const [event] = await contract.queryFilter(filter, deps.deployment.deployBlock);
    await updatePeriod(db, row.period, {
      state: "anchored",
      tx_hash: event?.transactionHash ?? row.tx_hash,
      block_number: event?.blockNumber ?? null,
      block_hash: event?.blockHash ?? null,
      anchored_at: new Date(Number(onChain.anchoredAt) * 1000),
    });
  }

  async function send(row: PeriodRow): Promise<void> {
    const onChain = await readAnchor(contract, row.period);
    if (onChain.anchoredAt !== 0n) return adopt(row, onChain);
    const call = await contract
      .getFunction("anchor")
      .populateTransaction(row.period, row.root, row.receipt_count, row.total_tokens, row.uri);
    const nonce = await provider.getTransactionCount(deps.wallet.address, "pending");
    const raw = await deps.wallet.signTransaction(await deps.wallet.populateTransaction({ ...call, nonce }));
    const hash = Transaction.from(raw).hash as string;
    await updatePeriod(db, row.period, { state: "sent", tx_hash: hash, tx_nonce: nonce, tx_raw: raw });
    logger.info({ period: row.period, tx: hash, nonce }, "receipts root sent");
    await provider.broadcastTransaction(raw);
  }

  async function watchSent(row: PeriodRow): Promise<void> {
    const hash = row.tx_hash as string;
    const receipt = await provider.getTransactionReceipt(hash);
    if (receipt) {
      if (receipt.status === 1) {
        if ((await receipt.confirmations()) < confirmations) return;
        await updatePeriod(db, row.period, {
          state: "anchored",
          block_number: receipt.blockNumber,
          block_hash: receipt.blockHash,
          anchored_at: new Date(deps.now()),
        });
        logger.info({ period: row.period, tx: hash, block: receipt.blockNumber }, "receipts period anchored");
        return;
      }
      logger.warn({ period: row.period, tx: hash }, "the anchoring transaction failed; the period is sent again");
      return resend(row);
    }
    if (await provider.getTransaction(hash)) return; // pending
    const onChain = await readAnchor(contract, row.period);
    if (onChain.anchoredAt !== 0n) return adopt(row, onChain);
    const used = await provider.getTransactionCount(deps.wallet.address, "latest");
    if (used > Number(row.tx_nonce)) return resend(row);
    logger.warn(
      { period: row.period, tx: hash },
      "the anchoring transaction is unknown to the node; broadcasting it again",
    );
    await provider.broadcastTransaction(row.tx_raw as string);
  }

  /** Back to built, unless the chain has the period (then it is adopted). */
  async function resend(row: PeriodRow): Promise<void> {
    const onChain = await readAnchor(contract, row.period);
    if (onChain.anchoredAt !== 0n) return adopt(row, onChain);
    await updatePeriod(db, row.period, { state: "built", tx_hash: null, tx_nonce: null, tx_raw: null });
  }

  async function watchAnchored(row: PeriodRow): Promise<void> {
    const block = await provider.getBlock(Number(row.block_number));
    if (block?.hash === row.block_hash) return;
    logger.warn({ period: row.period, block: row.block_number }, "the anchoring block was reorganised away");
    await updatePeriod(db, row.period, { state: "sent", block_number: null, block_hash: null, anchored_at: null });
  }

  async function tick(): Promise<void> {
    await buildClosedPeriods();
    const head = await provider.getBlockNumber();
    for (const row of await periodsToWatch(db, head - reorgDepth)) {
      if (row.state === "built") await send(row);
      else if (row.state === "sent") await watchSent(row);
      else await watchAnchored(row);
    }
  }

  async function term(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await tick().catch((error: unknown) => logger.warn({ err: error }, "anchoring pass failed; retrying"));
      await sleep(intervalMs, signal);
    }
  }

  const task = createLeaderTask({
    database,
    name: "commons-receipts-anchorer",
    intervalMs,
    onError: (error) => logger.warn({ err: error }, "anchorer leader election failed; retrying"),
    term,
    onFailed: (error) => logger.error({ err: error }, "anchorer stopped"),
  });

  return {
    tick,
    start: task.start,
    stop: task.stop,
  };
}
