import { HardhatArtifactResolver } from "@nomicfoundation/hardhat-ignition/helpers";
import {
  type DeploymentParameters,
  DeploymentResultType,
  deploy,
  type EIP1193Provider,
  type ExecutionEventListener,
  type IgnitionModule,
  type IgnitionModuleResult,
  listTransactions,
} from "@nomicfoundation/ignition-core";
import { getAddress, getNumber, type JsonRpcApiProvider, ZeroAddress } from "ethers";
import { artifacts, network } from "hardhat";
import { AppError } from "../shared/errors.ts";
import { type Deployment, type GovernanceProfile, OUR_GOVERNANCE } from "./deployment.ts";
import existingDaoModule from "./ignition/existing-dao.ts";
import newDaoModule from "./ignition/new-dao.ts";
import { existingDaoParameters, newDaoParameters } from "./ignition/parameters.ts";

/** What a new deployment starts with. Times in seconds, amounts in wei / AI tokens. */
export interface DeployConfig {
  holders: { address: string; amount: bigint }[];
  governor: {
    votingDelay: number;
    votingPeriod: number;
    proposalThreshold: bigint;
    quorumPercent: number;
    lateQuorumExtension: number;
    /** Percent of the supply in For votes that makes a proposal succeed before its deadline (≥ quorum). */
    superQuorumPercent: number;
    /** The security council that may cancel proposals and suspend a model at once; zero address: none. */
    proposalGuardian: string;
  };
  timelockDelay: number;
  /** Seconds a guardian's suspension of a model lasts unless a vote confirms it (1 hour to 30 days). */
  guardianSuspensionPeriod: number;
  pool: { allowancePerAddress: bigint; poolSizePerEpoch: bigint; epochLength: number };
  /** Voting power (token wei) an address needs at an epoch's start to draw on the pool; 0: every address. */
  poolMinVotes: bigint;
  /** The usage anchor's first anchorer (unset: none until governance appoints one). */
  anchorer?: string;
}

/**
 * Settings that suit a development chain: short periods, generous pool, and a pool open to every
 * address (poolMinVotes 0). Eligibility is measured at the epoch's start, and every wallet of a
 * development chain gets its tokens after that (the chain starts with the service, the demo funds new
 * wallets just before it spends): any positive minimum would close the pool to all of them until the
 * next epoch. Tests and real deployments set one (docs/security.md). The first holder is the guardian;
 * proposing needs one token (low, but a threshold of zero would let any address spam proposals); the
 * super quorum is the whole supply, so that a proposal every development holder votes For succeeds as
 * the last of them votes, and a vote by fewer runs its full period as before (tests set lower ones).
 */
export function devDeployConfig(holders: string[], amount = 1_000_000n * 10n ** 18n): DeployConfig {
  return {
    holders: holders.map((address) => ({ address, amount })),
    governor: {
      votingDelay: 1,
      votingPeriod: 300,
      proposalThreshold: 10n ** 18n,
      quorumPercent: 4,
      lateQuorumExtension: 60,
      superQuorumPercent: 100,
      proposalGuardian: holders[0] ?? ZeroAddress,
    },
    timelockDelay: 60,
    guardianSuspensionPeriod: 86_400,
    pool: { allowancePerAddress: 2_000n, poolSizePerEpoch: 1_000_000n, epochLength: 86_400 },
    poolMinVotes: 0n,
  };
}

/** An existing DAO's governance, as `probeExistingDao` found it. */
export interface ExistingDao {
  governor: string;
  timelock: string;
  token: string;
  /** Whether the governor has a proposal guardian (GovernorProposalGuardian) the registry can defer to. */
  hasProposalGuardian: boolean;
  profile: GovernanceProfile;
  /** The first block the indexer reads. */
  startBlock: number;
}

/** One transaction of a deployment, as it is sent and then confirmed. */
export interface DeployStep {
  /** Ignition's future id, e.g. `CommonsNewDao#CommonsToken`. */
  futureId: string;
  hash: string;
  confirmed: boolean;
}

/** How a deployment runs. The provider signs for its first account, which deploys. */
export interface DeployRun {
  provider: EIP1193Provider;
  /**
   * Folder of Ignition's journal: a run that stops halfway resumes from it, with the same parameters.
   * Unset: kept in memory (the development chain, tests, a dry run).
   */
  journal?: string;
  /** Confirmations per transaction (Ignition's default: 5, or 1 on a chain that mines every transaction). */
  confirmations?: number;
  /** How often a pending transaction's block is looked for. */
  pollIntervalMs?: number;
  onStep?: (step: DeployStep) => void;
}

/** A JSON-RPC provider as the EIP-1193 provider Ignition talks to (the node must hold the deployer's key). */
export function eip1193(provider: Pick<JsonRpcApiProvider, "send">): EIP1193Provider {
  return { request: ({ method, params }) => provider.send(method, (params as unknown[] | undefined) ?? []) };
}

/**
 * Deploys and wires a new DAO with the provider's first account: token, timelock, governor, policy
 * registry and resource allocator (the CommonsNewDao Ignition module). The timelock ends up owning the
 * registry and allocator, the governor alone may propose and cancel, anyone may execute, and the
 * deployer keeps no role.
 */
export async function deploySystem(run: DeployRun, config: DeployConfig): Promise<Deployment> {
  const { contracts: all, firstBlock, chainId } = await runModule(run, newDaoModule, newDaoParameters(config));
  const { usageAnchor, ...contracts } = all;
  return {
    chainId,
    contracts,
    usageAnchor,
    deployBlock: firstBlock,
    deployedAt: new Date().toISOString(),
    governance: OUR_GOVERNANCE,
  };
}

/**
 * Deploys the policy registry and the resource allocator for an existing DAO (the CommonsExistingDao
 * Ignition module), owned by the timelock its governor executes through.
 */
export async function deployForExistingDao(
  run: DeployRun,
  dao: ExistingDao,
  pool: DeployConfig["pool"],
  poolMinVotes: bigint,
  guardianSuspensionPeriod: number,
): Promise<Deployment> {
  const guardianSource = dao.hasProposalGuardian ? dao.governor : ZeroAddress;
  const parameters = existingDaoParameters({ ...dao, guardianSource }, pool, poolMinVotes, guardianSuspensionPeriod);
  const { contracts, chainId } = await runModule(run, existingDaoModule, parameters);
  return {
    chainId,
    contracts: {
      token: dao.token,
      timelock: dao.timelock,
      governor: dao.governor,
      registry: contracts.registry,
      allocator: contracts.allocator,
    },
    usageAnchor: contracts.usageAnchor,
    deployBlock: dao.startBlock,
    deployedAt: new Date().toISOString(),
    governance: dao.profile,
  };
}

type Results = IgnitionModuleResult<string>;

/**
 * Runs one Ignition module to completion (resuming from the journal when there is one) and returns the
 * addresses of its results by name, and the first block any of its transactions landed in.
 */
async function runModule<R extends Results>(
  run: DeployRun,
  module: IgnitionModule<string, string, R>,
  parameters: DeploymentParameters,
): Promise<{ contracts: Record<keyof R & string, string>; firstBlock: number; chainId: number }> {
  const artifactResolver = new HardhatArtifactResolver(artifacts);
  const accounts = (await run.provider.request({ method: "eth_accounts" })) as string[];
  const sent: string[] = [];
  const result = await deploy({
    provider: run.provider,
    artifactResolver,
    ignitionModule: module,
    deploymentParameters: parameters,
    accounts,
    ...(run.journal ? { deploymentDir: run.journal } : {}),
    config: {
      blockPollingInterval: run.pollIntervalMs ?? 500,
      ...(run.confirmations ? { requiredConfirmations: run.confirmations } : {}),
    },
    executionEventListener: stepListener((step) => {
      if (!step.confirmed) sent.push(step.hash);
      run.onStep?.(step);
    }),
  }).catch((cause: unknown) => {
    // Ignition throws for what it cannot go on with (the node unreachable, a nonce it did not expect...).
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new AppError("DEPLOY_FAILED", `the deployment stopped: ${message}`, { cause });
  });
  if (result.type !== DeploymentResultType.SUCCESSFUL_DEPLOYMENT) {
    throw new AppError("DEPLOY_FAILED", `the deployment stopped: ${describeFailure(result)}`, {
      details: { result: result.type },
    });
  }
  const contracts = {} as Record<keyof R & string, string>;
  for (const [name, future] of Object.entries(module.results)) {
    const deployed = result.contracts[future.id];
    if (!deployed) throw new AppError("DEPLOY_FAILED", `the deployment has no address for ${future.id}`);
    contracts[name as keyof R & string] = getAddress(deployed.address);
  }
  // Every transaction of the deployment, this run's and (from the journal) earlier runs'.
  const hashes = run.journal ? (await listTransactions(run.journal, artifactResolver)).map((t) => t.txHash) : sent;
  const blocks = await Promise.all(
    hashes.map(async (hash) => {
      const receipt = (await run.provider.request({ method: "eth_getTransactionReceipt", params: [hash] })) as {
        blockNumber: string;
      } | null;
      return receipt ? getNumber(receipt.blockNumber) : Number.POSITIVE_INFINITY;
    }),
  );
  const chainId = getNumber((await run.provider.request({ method: "eth_chainId" })) as string);
  const firstBlock = Math.min(...blocks);
  if (!Number.isFinite(firstBlock)) throw new AppError("DEPLOY_FAILED", "no transaction of the deployment was found");
  return { contracts, firstBlock, chainId };
}

/**
 * Ignition's listener wants a handler for every event; only sent and confirmed transactions matter here.
 */
function stepListener(onStep: (step: DeployStep) => void): ExecutionEventListener {
  const handlers: Partial<ExecutionEventListener> = {
    transactionSend: async (e) => onStep({ futureId: e.futureId, hash: e.hash, confirmed: false }),
    transactionConfirm: async (e) => onStep({ futureId: e.futureId, hash: e.hash, confirmed: true }),
  };
  return new Proxy(handlers, {
    get: (target, name) => target[name as keyof ExecutionEventListener] ?? (async () => {}),
  }) as ExecutionEventListener;
}

function describeFailure(result: Awaited<ReturnType<typeof deploy>>): string {
  switch (result.type) {
    case DeploymentResultType.VALIDATION_ERROR:
    case DeploymentResultType.RECONCILIATION_ERROR:
    case DeploymentResultType.PREVIOUS_RUN_ERROR:
      return Object.entries(result.errors)
        .map(([future, errors]) => `${future}: ${errors.join("; ")}`)
        .join(" | ");
    case DeploymentResultType.EXECUTION_ERROR:
      return [
        ...result.failed.map((f) => `${f.futureId} failed: ${f.error}`),
        ...result.timedOut.map((f) => `${f.futureId} timed out`),
        ...result.held.map((f) => `${f.futureId} held: ${f.reason}`),
      ].join(" | ");
    default:
      return result.type;
  }
}

/**
 * The gas of each transaction of a deployment, from running it on an in-process EVM that forks the
 * target chain at its latest block (`forkUrl`), so that an existing DAO's contracts the deployment calls
 * (the allocator reads its token's supply) are there as they are on the chain.
 */
export async function simulateGas(
  deployOn: (run: DeployRun) => Promise<unknown>,
  forkUrl: string,
): Promise<{ futureId: string; gas: bigint }[]> {
  const connection = await network.create({ override: { forking: { url: forkUrl } } });
  try {
    const confirmed: DeployStep[] = [];
    await deployOn({
      provider: connection.provider,
      pollIntervalMs: 20,
      onStep: (step) => {
        if (step.confirmed) confirmed.push(step);
      },
    });
    return await Promise.all(
      confirmed.map(async ({ futureId, hash }) => {
        const receipt = (await connection.provider.request({
          method: "eth_getTransactionReceipt",
          params: [hash],
        })) as { gasUsed: string };
        return { futureId, gas: BigInt(receipt.gasUsed) };
      }),
    );
  } finally {
    await connection.close();
  }
}
