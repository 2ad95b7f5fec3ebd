import {
  AbiCoder,
  Contract,
  type ErrorDescription,
  getAddress,
  Interface,
  keccak256,
  type Result,
  toBeHex,
} from "ethers";
import { network } from "hardhat";
import { LRUCache } from "lru-cache";
import pLimit from "p-limit";
import { AppError, isAppError } from "../shared/errors.ts";
import { type GovernorSetting, type PolicyRules, policyRulesFromAbi, policyRulesToAbi } from "./actions.ts";
import { type ContractRole, contractInterface, loadArtifact } from "./artifacts.ts";
import type { Deployment } from "./deployment.ts";

/**
 * A proposal's calls executed as the timelock on a fork of the chain (Hardhat's EDR forking the service's
 * own RPC URL, in memory: nothing is sent to the real chain and nothing is downloaded), with each call's
 * outcome, its gas, and the registry's and allocator's state read back from the fork's views afterwards.
 */

export interface CallOutcome {
  index: number;
  target: string;
  /** NOT_RUN: an earlier call reverted, and the timelock's batch reverts as a whole. */
  status: "SUCCEEDED" | "REVERTED" | "NOT_RUN";
  /** Null for a reverted call: the fork does not mine a transaction that reverts. */
  gasUsed: bigint | null;
  /** The revert decoded against our contracts' ABIs (custom error, Error(string) or Panic). */
  error: { name: string; signature: string; args: string[]; data: string } | null;
}

/**
 * A model's policy on a chain (version 0: never set): version and suspension from getPolicy, the rules
 * from the model's latest PolicySet event, checked against the hash the registry stores.
 */
export interface ChainPolicy extends PolicyRules {
  version: number;
  suspended: boolean;
  /** Unix seconds a guardian's suspension lapses at; 0 for a suspension by vote, or none. */
  suspendedUntil: number;
}

export interface ChainGrant {
  grantee: string;
  modelId: string;
  tokensPerEpoch: bigint;
  start: number;
  end: number;
  revoked: boolean;
}

export interface ChainState {
  policies: Map<string, ChainPolicy>;
  grants: Map<string, ChainGrant>;
  nextGrantId: bigint;
  pool: { allowancePerAddress: bigint; poolSizePerEpoch: bigint; epochLength: number };
  governor: Record<GovernorSetting, bigint>;
  /** The governor's proposal guardian and the registry's guardian suspension period (seconds). */
  guardian: { guardian: string; suspensionPeriod: number };
  /** Who controls the registry and the allocator (the timelock, unless a call handed them on). */
  owners: { registry: string; allocator: string };
}

export interface Simulation {
  /** The block the fork was taken at. */
  blockNumber: number;
  calls: CallOutcome[];
  /** Every call succeeded: executing the proposal would not revert. */
  executes: boolean;
  /** State after the calls (after the calls that ran, when one reverted). */
  after: ChainState;
}

export interface SimulationInput {
  /** Cache key: what is simulated (a proposal id); the block is added to it. */
  key: string;
  calls: { target: string; value: bigint; calldata: string }[];
  /** Models and grants to read back besides those the registry lists and the allocator numbers. */
  modelIds: string[];
}

export interface ForkSimulator {
  simulate(input: SimulationInput): Promise<Simulation>;
}

const ROLES: ContractRole[] = ["registry", "allocator", "governor", "timelock", "token"];
/** Error(string) and Panic(uint256), which every contract may revert with. */
const builtinErrors = new Interface(["error Error(string message)", "error Panic(uint256 code)"]);
const TEN_THOUSAND_ETH = toBeHex(10n ** 22n);

function decodeRevert(data: string): CallOutcome["error"] {
  for (const iface of [...ROLES.map(contractInterface), builtinErrors]) {
    let parsed: ErrorDescription | null = null;
    try {
      parsed = iface.parseError(data);
    } catch {
      // Not this contract's error: try the next ABI.
    }
    if (parsed) {
      return { name: parsed.name, signature: parsed.signature, args: parsed.args.map((a) => String(a)), data };
    }
  }
  return { name: "UNKNOWN_REVERT", signature: "", args: [], data };
}

/** The revert data an EDR error carries (a reverted eth_sendTransaction). */
function revertData(error: unknown): string | null {
  if (typeof error !== "object" || error === null) return null;
  const data = (error as { data?: unknown }).data;
  if (typeof data === "string" && data.startsWith("0x")) return data;
  if (typeof data === "object" && data !== null && typeof (data as { data?: unknown }).data === "string") {
    return (data as { data: string }).data;
  }
  return null;
}

/** An EIP-1193 provider (Hardhat's, or any other). */
export interface RequestProvider {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

const NO_RULES: PolicyRules = {
  approved: false,
  maxTokensPerRequest: 0,
  requestsPerMinute: 0,
  allowedPurposes: [],
  blockedTerms: [],
  guidelineUri: "",
  guidelineHash: `0x${"0".repeat(64)}`,
};

/**
 * The registry's, the allocator's and the governor's state from their views: every model that has a
 * PolicySet event plus `modelIds`, every grant ever given, the pool, the settings and who owns the registries.
 * What the contracts store only as a hash (a model's rules, a grant's model id) is read from their
 * events, and a model's rules are checked against the registry's hash (`matchesRules`): a mismatch is
 * an error, never a silent difference.
 */
export async function readChainState(
  provider: RequestProvider,
  deployment: Deployment,
  modelIds: string[],
): Promise<ChainState> {
  const runner = {
    provider: null,
    call: async (tx: { to?: unknown; data?: unknown }) =>
      (await provider.request({ method: "eth_call", params: [{ to: tx.to, data: tx.data }, "latest"] })) as string,
  };
  const at = (role: ContractRole) =>
    new Contract(deployment.contracts[role], loadArtifact(role).abi, runner as never) as Contract &
      Record<string, (...args: unknown[]) => Promise<never>>;
  const registry = at("registry");
  const allocator = at("allocator");
  const governor = at("governor");
  const logsOf = async (role: "registry" | "allocator", event: string) => {
    const iface = contractInterface(role);
    const logs = (await provider.request({
      method: "eth_getLogs",
      params: [
        {
          address: deployment.contracts[role],
          topics: [iface.getEvent(event)?.topicHash],
          fromBlock: toBeHex(deployment.deployBlock),
          toBlock: "latest",
        },
      ],
    })) as { topics: string[]; data: string }[];
    return logs.map((log) => iface.parseLog(log)?.args as Result);
  };
  const latestRules = new Map<string, PolicyRules>();
  for (const args of await logsOf("registry", "PolicySet"))
    latestRules.set(args.modelId, policyRulesFromAbi(args.policy));
  const policies = new Map<string, ChainPolicy>();
  // Every model that ever had a policy has a PolicySet event: the registry keeps no list of them.
  for (const modelId of new Set([...latestRules.keys(), ...modelIds])) {
    const p = await registry.getPolicy(modelId);
    const rules = latestRules.get(modelId);
    if (rules !== undefined && !(await registry.matchesRules(modelId, policyRulesToAbi(rules)))) {
      throw new AppError("RPC_ERROR", `the latest PolicySet event of ${modelId} does not match the registry's hash`);
    }
    policies.set(modelId, {
      version: Number(p.version),
      suspended: p.suspended,
      suspendedUntil: Number(p.suspendedUntil),
      ...(rules ?? NO_RULES),
    });
  }
  const grantModels = new Map<bigint, string>();
  for (const args of await logsOf("allocator", "GrantCreated")) grantModels.set(BigInt(args.grantId), args.modelId);
  const nextGrantId = BigInt(await allocator.nextGrantId());
  const grants = new Map<string, ChainGrant>();
  for (let id = 1n; id < nextGrantId; id++) {
    const g = await allocator.getGrant(id);
    grants.set(id.toString(), {
      grantee: g.grantee,
      modelId: grantModels.get(id) ?? "",
      tokensPerEpoch: BigInt(g.tokensPerEpoch),
      start: Number(g.start),
      end: Number(g.end),
      revoked: g.revoked,
    });
  }
  const pool = await allocator.communityPool();
  return {
    policies,
    grants,
    nextGrantId,
    pool: {
      allowancePerAddress: BigInt(pool.allowancePerAddress),
      poolSizePerEpoch: BigInt(pool.poolSizePerEpoch),
      epochLength: Number(pool.epochLength),
    },
    governor: {
      VOTING_DELAY: BigInt(await governor.votingDelay()),
      VOTING_PERIOD: BigInt(await governor.votingPeriod()),
      PROPOSAL_THRESHOLD: BigInt(await governor.proposalThreshold()),
      QUORUM_NUMERATOR: BigInt(await governor.getFunction("quorumNumerator()")()),
      LATE_QUORUM_EXTENSION: BigInt(await governor.lateQuorumVoteExtension()),
      SUPER_QUORUM_NUMERATOR: BigInt(await governor.getFunction("superQuorumNumerator()")()),
    },
    guardian: {
      guardian: await governor.proposalGuardian(),
      suspensionPeriod: Number(await registry.guardianSuspensionPeriod()),
    },
    owners: { registry: await registry.owner(), allocator: await allocator.owner() },
  };
}

const word = (n: bigint) => toBeHex(n, 32);
/** Slots a governor's storage layout could keep `_governanceCall` at (OZ Governor's state comes first). */
const QUEUE_SLOT_CANDIDATES = 64n;

/**
 * A governor's setters accept a call from the timelock only inside the governor's own execute(), which
 * first queues the hash of each call to itself (OZ Governor `_governanceCall`, a Bytes32Deque). The fork
 * queues the hash the same way, by writing that queue: its slot is found once per governor, by trying
 * against each candidate slot (as an eth_call state override) a setter that cannot fail otherwise,
 * setVotingDelay with the delay it already has.
 */
async function governanceQueueSlot(provider: RequestProvider, governor: string, timelock: string): Promise<bigint> {
  const iface = contractInterface("governor");
  const current = (await provider.request({
    method: "eth_call",
    params: [{ to: governor, data: iface.encodeFunctionData("votingDelay") }, "latest"],
  })) as string;
  const probe = iface.encodeFunctionData("setVotingDelay", [iface.decodeFunctionResult("votingDelay", current)[0]]);
  for (let slot = 0n; slot < QUEUE_SLOT_CANDIDATES; slot++) {
    const queued = queueWrites(slot, probe);
    const stateDiff = Object.fromEntries(queued);
    try {
      await provider.request({
        method: "eth_call",
        params: [{ from: timelock, to: governor, data: probe }, "latest", { [governor]: { stateDiff } }],
      });
      return slot;
    } catch {
      // Not the queue's slot: the setter found the queue empty.
    }
  }
  throw new AppError("SIMULATION_FAILED", `cannot find the governance call queue of governor ${governor}`);
}

/** The storage writes that make a Bytes32Deque at `slot` hold exactly keccak256(calldata). */
function queueWrites(slot: bigint, calldata: string): [string, string][] {
  const firstItem = keccak256(AbiCoder.defaultAbiCoder().encode(["uint256", "uint256"], [0n, slot + 1n]));
  // _begin = 0 and _end = 1, packed in one slot (_end in the high 128 bits), then _data[0].
  return [
    [word(slot), word(1n << 128n)],
    [firstItem, keccak256(calldata)],
  ];
}

async function runOnFork(
  rpcUrl: string,
  deployment: Deployment,
  blockNumber: number,
  input: SimulationInput,
  queueSlots: Map<string, bigint>,
) {
  const fork = await network.create({
    network: "default",
    override: { forking: { url: rpcUrl, blockNumber } },
  } as Parameters<typeof network.create>[0]);
  try {
    const { provider } = fork;
    const timelock = deployment.contracts.timelock;
    await provider.request({ method: "hardhat_impersonateAccount", params: [timelock] });
    await provider.request({ method: "hardhat_setBalance", params: [timelock, TEN_THOUSAND_ETH] });
    // Reads then run on a block of the fork's own: EDR knows no hardfork history for a block it forked
    // from on a chain it has no descriptor for (a development chain), and cannot run calls on those.
    await provider.request({ method: "evm_mine", params: [] });
    const calls: CallOutcome[] = [];
    let executes = true;
    for (const [index, call] of input.calls.entries()) {
      if (!executes) {
        calls.push({ index, target: call.target, status: "NOT_RUN", gasUsed: null, error: null });
        continue;
      }
      const tx = { from: timelock, to: call.target, data: call.calldata, value: toBeHex(call.value) };
      if (getAddress(call.target) === deployment.contracts.governor) {
        let slot = queueSlots.get(call.target);
        if (slot === undefined) {
          slot = await governanceQueueSlot(provider, call.target, timelock);
          queueSlots.set(call.target, slot);
        }
        for (const [key, value] of queueWrites(slot, call.calldata)) {
          await provider.request({ method: "hardhat_setStorageAt", params: [call.target, key, value] });
        }
      }
      let hash: string;
      try {
        hash = (await provider.request({ method: "eth_sendTransaction", params: [tx] })) as string;
      } catch (cause) {
        // EDR refuses a reverting transaction (it is not mined) and hands back the revert data.
        const data = revertData(cause);
        if (data === null) throw cause;
        executes = false;
        calls.push({ index, target: call.target, status: "REVERTED", gasUsed: null, error: decodeRevert(data) });
        continue;
      }
      const receipt = (await provider.request({ method: "eth_getTransactionReceipt", params: [hash] })) as {
        gasUsed: string;
      };
      calls.push({ index, target: call.target, status: "SUCCEEDED", gasUsed: BigInt(receipt.gasUsed), error: null });
    }
    return { blockNumber, calls, executes, after: await readChainState(fork.provider, deployment, input.modelIds) };
  } finally {
    await fork.close();
  }
}

/**
 * Simulations cost a fork and its RPC reads: one runs at a time on this replica (the others wait their
 * turn), each within `timeoutMs` counted from its request, and a result is kept per (key, block), since
 * the same proposal on the same chain state simulates the same way.
 */
export function createForkSimulator(o: {
  rpcUrl: string;
  deployment: Deployment;
  /** The chain's head, the block forks are taken at. */
  blockNumber: () => Promise<number>;
  timeoutMs: number;
  cacheSize?: number;
}): ForkSimulator {
  const one = pLimit(1);
  const queueSlots = new Map<string, bigint>();
  const cache = new LRUCache<string, Promise<Simulation>>({ max: o.cacheSize ?? 64 });
  const failed = (what: string, cause: unknown) => {
    if (isAppError(cause)) return cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new AppError("SIMULATION_FAILED", `${what}: ${reason}`, { cause });
  };
  return {
    async simulate(input) {
      const blockNumber = await o.blockNumber().catch((cause: unknown) => {
        throw failed("cannot read the chain's head to fork it", cause);
      });
      const key = `${input.key}@${blockNumber}`;
      const cached = cache.get(key);
      if (cached) return cached;
      let timer: NodeJS.Timeout | undefined;
      let abandoned = false;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abandoned = true;
          reject(
            new AppError("SIMULATION_TIMEOUT", `the simulation did not finish within ${o.timeoutMs} ms`, {
              details: { timeoutMs: o.timeoutMs },
            }),
          );
        }, o.timeoutMs);
      });
      // The slot is given back at the deadline too: a fork stuck on an RPC that never answers must not
      // hold it for good (the stuck one goes on in the background until its connection gives up).
      const run = one(() => {
        // Waited in the queue past its deadline: nobody is waiting for it any more.
        if (abandoned) throw new AppError("SIMULATION_TIMEOUT", "the simulation waited past its deadline");
        return Promise.race([runOnFork(o.rpcUrl, o.deployment, blockNumber, input, queueSlots), deadline]);
      }).catch((cause: unknown) => {
        throw failed(`the fork of block ${blockNumber} could not run the calls`, cause);
      });
      const result = Promise.race([run, deadline]).finally(() => clearTimeout(timer));
      cache.set(key, result);
      // A failure is not kept: the next request tries again.
      result.catch(() => cache.delete(key));
      return result;
    },
  };
}
