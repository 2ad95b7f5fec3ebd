import { getAddress, getNumber, type JsonRpcApiProvider, type Provider } from "ethers";
import pRetry, { AbortError } from "p-retry";
import { AppError, isAppError } from "../shared/errors.ts";
import type { Deployment } from "./deployment.ts";
import { logFilter, type RawLog } from "./events.ts";

export interface BlockHeader {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
}

/** What the indexer reads from the chain; every call retries transient faults with backoff and jitter. */
export interface ChainReader {
  headNumber(): Promise<number>;
  block(number: number): Promise<BlockHeader>;
  /** Headers of many blocks, fetched concurrently (a JsonRpcProvider batches them). */
  blocks(numbers: number[]): Promise<Map<number, BlockHeader>>;
  /** The deployment's watched logs in [from, to]; throws RPC_RANGE_REFUSED when the node refuses the span. */
  logs(from: number, to: number): Promise<RawLog[]>;
  /** eth_call of `data` on `to` as of block `block`; a revert is an RPC_ERROR like any other failure. */
  call(to: string, data: string, block: number): Promise<string>;
  /** Sender and recipient of each transaction (checksummed; `to` null for a creation), fetched concurrently. */
  transactions(hashes: string[]): Promise<Map<string, TransactionParties>>;
}

export interface TransactionParties {
  from: string;
  to: string | null;
}

export interface ChainReaderOptions {
  provider: Provider;
  deployment: Deployment;
  /** Attempts per call before the error reaches the caller (whose loop tries again later). */
  retries?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  signal?: AbortSignal;
  onRetry?: (error: Error) => void;
}

/** Messages nodes answer with when an eth_getLogs span is too large (geth, erigon, alchemy, infura...). */
const rangeRefusal =
  /(block range|range (is )?too (large|wide)|too many (blocks|results|logs)|more than \d+ (results|logs)|limit exceeded|response size|exceed(s|ed)? .*(range|limit|results))/i;

export function isRangeRefusal(error: unknown): boolean {
  const text =
    error instanceof Error ? `${error.message} ${JSON.stringify((error as { error?: unknown }).error ?? "")}` : "";
  return rangeRefusal.test(text);
}

export function createChainReader(options: ChainReaderOptions): ChainReader {
  const { provider, deployment } = options;
  const filter = logFilter(deployment);

  const call = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    pRetry(
      async () => {
        try {
          return await fn();
        } catch (cause) {
          if (isRangeRefusal(cause)) {
            throw new AbortError(
              new AppError("RPC_RANGE_REFUSED", `${what}: the node refused the block range`, { cause }),
            );
          }
          if (isAppError(cause)) throw cause;
          throw new AppError("RPC_ERROR", `${what} failed: ${describe(cause)}`, { cause });
        }
      },
      {
        retries: options.retries ?? 4,
        minTimeout: options.minBackoffMs ?? 100,
        maxTimeout: options.maxBackoffMs ?? 3_000,
        factor: 2,
        randomize: true,
        ...(options.signal ? { signal: options.signal } : {}),
        onFailedAttempt: ({ error }) => options.onRetry?.(error),
      },
    );

  // A JSON-RPC provider is asked directly: ethers' per-object formatting of ten thousand logs costs
  // more than the node takes to find them. Other providers go through the generic interface.
  const rpc = "send" in provider ? (provider as unknown as JsonRpcApiProvider) : undefined;

  const block = (number: number) =>
    call(`eth_getBlockByNumber(${number})`, async () => {
      const b = rpc
        ? ((await rpc.send("eth_getBlockByNumber", [hex(number), false])) as RawBlock | null)
        : await provider.getBlock(number);
      if (!b?.hash) throw new AppError("RPC_ERROR", `block ${number} is not available yet`);
      return {
        number: getNumber(b.number),
        hash: b.hash,
        parentHash: b.parentHash,
        timestamp: getNumber(b.timestamp),
      };
    });

  const fetchLogs = async (from: number, to: number): Promise<RawLog[]> => {
    if (!rpc) {
      const logs = await provider.getLogs({ ...filter, fromBlock: from, toBlock: to });
      return logs.map((l) => ({ ...l, topics: l.topics, index: l.index }));
    }
    const raw = (await rpc.send("eth_getLogs", [{ ...filter, fromBlock: hex(from), toBlock: hex(to) }])) as unknown;
    if (!Array.isArray(raw)) throw new AppError("RPC_ERROR", `eth_getLogs(${from}..${to}) answered no list`);
    return raw.map((l: RawRpcLog) => {
      if (l.removed) throw new AppError("RPC_ERROR", `eth_getLogs(${from}..${to}) returned a removed log`);
      return {
        address: l.address,
        topics: l.topics,
        data: l.data,
        blockNumber: getNumber(l.blockNumber),
        blockHash: l.blockHash,
        transactionHash: l.transactionHash,
        index: getNumber(l.logIndex),
      };
    });
  };

  const transaction = (hash: string) =>
    call(`eth_getTransactionByHash(${hash})`, async () => {
      const tx = await provider.getTransaction(hash);
      if (!tx) throw new AppError("RPC_ERROR", `transaction ${hash} is not available`);
      return { from: getAddress(tx.from), to: tx.to === null ? null : getAddress(tx.to) };
    });

  return {
    headNumber: () => call("eth_blockNumber", () => provider.getBlockNumber()),
    block,
    async blocks(numbers) {
      const headers = await Promise.all([...new Set(numbers)].map((n) => block(n)));
      return new Map(headers.map((h) => [h.number, h]));
    },
    logs: (from, to) => call(`eth_getLogs(${from}..${to})`, () => fetchLogs(from, to)),
    async transactions(hashes) {
      const unique = [...new Set(hashes)];
      const parties = await Promise.all(unique.map((h) => transaction(h)));
      return new Map(unique.map((h, i) => [h, parties[i] as TransactionParties]));
    },
    call: (to, data, blockTag) =>
      call(`eth_call(${to}, ${data.slice(0, 10)}…)`, () => provider.call({ to, data, blockTag })),
  };
}

interface RawBlock {
  number: string | number;
  hash: string | null;
  parentHash: string;
  timestamp: string | number;
}

interface RawRpcLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
  removed?: boolean;
}

const hex = (n: number) => `0x${n.toString(16)}`;

function describe(error: unknown): string {
  if (error instanceof Error) return error.message.slice(0, 300);
  return String(error).slice(0, 300);
}
