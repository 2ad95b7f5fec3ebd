/**
 * Indexer throughput: a history of 10,000 votes over 100 proposals (100 voters) on a local JSON-RPC
 * node (`hardhat node` in its own process, as an operator would run one), indexed into the machine's Postgres.
 * Prints events per second for catch-up and the live lag in blocks while votes keep arriving.
 */
import { Contract, id, JsonRpcProvider, keccak256, toBeHex, Wallet } from "ethers";
import { encodeAction } from "../services/chain/actions.ts";
import { contractInterface } from "../services/chain/artifacts.ts";
import { deploySystem, devDeployConfig, eip1193 } from "../services/chain/deploy.ts";
import type { Deployment } from "../services/chain/deployment.ts";
import { logFilter } from "../services/chain/events.ts";
import { createTestDatabase } from "../services/devkit/database.ts";
import { openMigrated } from "../services/devkit/gateway.ts";
import { startHardhatNode } from "../services/devkit/hardhat-node.ts";
import { createIndexer } from "../services/indexer/indexer.ts";
import { type BenchRow, runBench } from "./harness.ts";

const VOTERS = 100;
const CATCH_UP_PROPOSALS = 100;
const LIVE_PROPOSALS = 10;
const TARGET_EVENTS_PER_SECOND = 5_000;

type RpcCall = { method: string; params: unknown[] };

export default async function indexerBench() {
  return runBench("indexer", async (log) => {
    const node = await startHardhatNode();
    const url = node.url;
    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });
    const database = await createBenchDatabase();
    try {
      const batch = rpcBatcher(url);
      const generation = Date.now();
      const { deployment, proposer, voters } = await holdersDeployed(provider, batch, VOTERS);
      log(`deployed at block ${deployment.deployBlock}; generated the voters`);
      const proposals = await propose(batch, deployment, proposer, CATCH_UP_PROPOSALS + LIVE_PROPOSALS);
      await batch([
        { method: "evm_increaseTime", params: [5] },
        { method: "evm_mine", params: [] },
      ]);
      const catchUp = proposals.slice(0, CATCH_UP_PROPOSALS);
      await sendAndMine(batch, votes(deployment, catchUp, voters));
      const head = await provider.getBlockNumber();
      log(`history: ${catchUp.length * VOTERS} votes up to block ${head} in ${(Date.now() - generation) / 1000}s`);
      // The node's own time to serve the whole history's logs in one call: the floor under catch-up.
      const filter = logFilter(deployment);
      const nodeStarted = performance.now();
      const allLogs = (await provider.send("eth_getLogs", [
        { ...filter, fromBlock: toBeHex(deployment.deployBlock), toBlock: toBeHex(head) },
      ])) as unknown[];
      const nodeSeconds = (performance.now() - nodeStarted) / 1000;
      const events = allLogs.length;

      // Ranges of ~2,000 logs: the next range is read from the node while the current one is written.
      const indexer = createIndexer({ database, provider, deployment, pollIntervalMs: 50, maxRange: 10 });
      const started = performance.now();
      await indexer.start();
      await indexer.waitForBlock(head);
      const catchUpSeconds = (performance.now() - started) / 1000;
      const eventsPerSecond = events / catchUpSeconds;
      log(`caught up: ${events} events in ${catchUpSeconds.toFixed(2)}s`);

      // Live: a block of votes every 200 ms; the lag is sampled right before each new block.
      const lags: number[] = [];
      const live = votes(deployment, proposals.slice(CATCH_UP_PROPOSALS), voters);
      const perBlock = 200;
      for (let i = 0; i < live.length; i += perBlock) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const status = indexer.status();
        lags.push((await provider.getBlockNumber()) - status.indexedBlock);
        await sendAndMine(batch, live.slice(i, i + perBlock));
      }
      await indexer.waitForBlock(await provider.getBlockNumber());
      await indexer.stop();
      const indexedVotes = await database.db
        .selectFrom("votes")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();

      const rows: BenchRow[] = [
        {
          metric: "catch-up throughput",
          value: eventsPerSecond,
          unit: "events/s",
          target: `>= ${TARGET_EVENTS_PER_SECOND}`,
          met: eventsPerSecond >= TARGET_EVENTS_PER_SECOND,
        },
        { metric: "catch-up events", value: events, unit: "events" },
        { metric: "catch-up time", value: catchUpSeconds, unit: "s" },
        { metric: "node eth_getLogs of the same history", value: nodeSeconds, unit: "s" },
        { metric: "live lag (max)", value: Math.max(...lags), unit: "blocks" },
        { metric: "live lag (mean)", value: lags.reduce((a, b) => a + b, 0) / lags.length, unit: "blocks" },
        { metric: "votes indexed", value: Number(indexedVotes.n), unit: "votes" },
      ];
      return {
        rows,
        notes: [
          `${VOTERS} voters x ${CATCH_UP_PROPOSALS} proposals for catch-up, then ${LIVE_PROPOSALS * VOTERS} live votes in blocks of ${perBlock} every 200 ms`,
          "node: `hardhat node` in a child process, over HTTP; database: local Postgres",
          "the node's eth_getLogs is the floor here: one call for the same history takes longer than the whole catch-up, which reads the next range while writing the current one",
        ],
      };
    } finally {
      await database.close();
      node.stop();
    }
  });
}

/**
 * A deployment on `hardhat node` whose `count` voters (impersonated, funded) and proposer each delegate to
 * themselves, with automining off: the start of every history these benchmarks index. The proposer
 * delegates too, since proposing takes governance v2's threshold of voting power.
 */
export async function holdersDeployed(provider: JsonRpcProvider, batch: ReturnType<typeof rpcBatcher>, count: number) {
  const voters = Array.from({ length: count }, (_, i) => new Wallet(keccak256(id(`bench voter ${i}`))).address);
  const proposer = await (await provider.getSigner(0)).getAddress();
  const config = devDeployConfig([proposer, ...voters]);
  config.governor.votingPeriod = 7 * 86_400;
  const deployment = await deploySystem({ provider: eip1193(provider), pollIntervalMs: 50 }, config);
  await batch(
    voters.flatMap((v) => [
      { method: "hardhat_setBalance", params: [v, toBeHex(10n ** 20n)] },
      { method: "hardhat_impersonateAccount", params: [v] },
    ]),
  );
  await batch([{ method: "evm_setAutomine", params: [false] }]);
  const token = contractInterface("token");
  await sendAndMine(
    batch,
    [proposer, ...voters].map((v) => ({
      from: v,
      to: deployment.contracts.token,
      data: token.encodeFunctionData("delegate", [v]),
    })),
  );
  return { deployment, proposer, voters };
}

/** Sends JSON-RPC batches straight to the node (one HTTP request per batch), failing on any error. */
export function rpcBatcher(url: string) {
  let nextId = 1;
  return async (calls: RpcCall[]): Promise<unknown[]> => {
    const results: unknown[] = [];
    for (let i = 0; i < calls.length; i += 500) {
      const body = calls.slice(i, i + 500).map((c) => ({ jsonrpc: "2.0", id: nextId++, ...c }));
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const answers = (await response.json()) as { result?: unknown; error?: { message: string } }[];
      for (const a of answers) {
        if (a.error) throw new Error(`node refused a call: ${a.error.message}`);
        results.push(a.result);
      }
    }
    return results;
  };
}

/**
 * Puts transactions in the mempool (automine is off) a block's worth at a time, and mines until the
 * last of each group is included (the node slows down sharply with thousands of pending transactions).
 * A reverted one fails the run: a history with fewer events than it claims would flatter the figures.
 */
export async function sendAndMine(
  batch: ReturnType<typeof rpcBatcher>,
  txs: { from: string; to: string; data: string }[],
  perBlock = 200,
): Promise<void> {
  for (let i = 0; i < txs.length; i += perBlock) {
    const hashes = (await batch(
      txs
        .slice(i, i + perBlock)
        .map((tx) => ({ method: "eth_sendTransaction", params: [{ ...tx, gas: toBeHex(600_000) }] })),
    )) as string[];
    for (;;) {
      await batch([{ method: "evm_mine", params: [] }]);
      const [receipt] = await batch([{ method: "eth_getTransactionReceipt", params: [hashes.at(-1)] }]);
      if (receipt) break;
    }
    const receipts = (await batch(
      hashes.map((hash) => ({ method: "eth_getTransactionReceipt", params: [hash] })),
    )) as ({ status: string } | null)[];
    const reverted = receipts.filter((r) => r?.status !== "0x1").length;
    if (reverted > 0) throw new Error(`${reverted} of ${hashes.length} transactions reverted or were not mined`);
  }
}

export async function propose(
  batch: ReturnType<typeof rpcBatcher>,
  deployment: Deployment,
  proposer: string,
  count: number,
) {
  const governor = new Contract(deployment.contracts.governor, contractInterface("governor"));
  const ids: bigint[] = [];
  const txs = [];
  for (let i = 0; i < count; i++) {
    const call = encodeAction(deployment.contracts, {
      kind: "SET_MODEL_POLICY",
      modelId: `bench-model-${i}`,
      approved: true,
      maxTokensPerRequest: 512,
      requestsPerMinute: 60,
      allowedPurposes: ["research"],
      blockedTerms: [],
      guidelineUri: `ipfs://bench/${i}`,
      guidelineHash: id(`bench guideline ${i}`),
    });
    const description = `Bench proposal ${i}`;
    const args = [[call.target], [call.value], [call.calldata]] as const;
    ids.push(
      BigInt(
        keccak256(
          governor.interface
            .getAbiCoder()
            .encode(["address[]", "uint256[]", "bytes[]", "bytes32"], [...args, id(description)]),
        ),
      ),
    );
    txs.push({
      from: proposer,
      to: deployment.contracts.governor,
      data: governor.interface.encodeFunctionData("propose", [...args, description]),
    });
  }
  await sendAndMine(batch, txs);
  return ids;
}

export function votes(deployment: Deployment, proposals: bigint[], voters: string[]) {
  const governor = contractInterface("governor");
  return proposals.flatMap((proposalId, p) =>
    voters.map((voter, v) => ({
      from: voter,
      to: deployment.contracts.governor,
      data:
        (p + v) % 3 === 0
          ? governor.encodeFunctionData("castVoteWithReason", [proposalId, (p + v) % 3, `reason ${p}-${v}`])
          : governor.encodeFunctionData("castVote", [proposalId, (p + v) % 3]),
    })),
  );
}

/** A fresh, migrated database on the machine's Postgres (TEST_DATABASE_URL's server, or the local default), dropped on close. */
export async function createBenchDatabase() {
  const teardowns: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
  const database = await openMigrated(t, await createTestDatabase(t));
  return {
    ...database,
    async close() {
      for (const fn of teardowns.reverse()) await fn();
    },
  };
}
