import {
  AbiCoder,
  type Contract,
  type ContractRunner,
  type ErrorFragment,
  Contract as EthersContract,
  type HDNodeWallet,
  Interface,
  id,
  keccak256,
  type TransactionReceipt,
  type Wallet,
} from "ethers";
import { network } from "hardhat";
import { type Action, encodeAction, policyRulesToAbi } from "../chain/actions.ts";
import { type ContractRole, contractInterface, contractNames, loadArtifact } from "../chain/artifacts.ts";
import { proposalNonceKey } from "../chain/contracts.ts";
import { type DeployConfig, deploySystem, devDeployConfig } from "../chain/deploy.ts";
import type { Deployment } from "../chain/deployment.ts";

type HardhatEthers = Awaited<ReturnType<typeof network.create>>["ethers"];
export type Signer = Awaited<ReturnType<HardhatEthers["getSigners"]>>[number];

export interface Chain {
  ethers: HardhatEthers;
  provider: HardhatEthers["provider"];
  signers: Signer[];
  deployment: Deployment;
  config: DeployConfig;
  /** Contracts bound to a runner (the first signer unless given). */
  contract(role: ContractRole, runner?: ContractRunner): Contract;
  /** Moves the chain's clock forward and mines a block. */
  increaseTime(seconds: number | bigint): Promise<void>;
  /** The latest block's timestamp. */
  now(): Promise<number>;
  mine(blocks?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A fresh in-process EVM with the whole system deployed. The first `holders` signers get tokens and
 * delegate to themselves, so they can vote at once.
 */
export async function createChain(
  options: { holders?: number; configure?: (c: DeployConfig) => DeployConfig } = {},
): Promise<Chain> {
  const connection = await network.create();
  const { ethers } = connection;
  const signers = await ethers.getSigners();
  const holders = signers.slice(0, options.holders ?? 3);
  const base = devDeployConfig(holders.map((s) => s.address));
  const config = options.configure ? options.configure(base) : base;
  const deployment = await deploySystem({ provider: connection.provider, pollIntervalMs: 50 }, config);
  const contract = (role: ContractRole, runner: ContractRunner = signers[0] as Signer) =>
    new EthersContract(deployment.contracts[role], loadArtifact(role).abi, runner);
  for (const holder of holders) {
    await (await (contract("token", holder) as Contract).delegate(holder.address)).wait();
  }
  const mine = async (blocks = 1) => {
    for (let i = 0; i < blocks; i++) await ethers.provider.send("evm_mine", []);
  };
  return {
    ethers,
    provider: ethers.provider,
    signers,
    deployment,
    config,
    contract,
    async increaseTime(seconds) {
      await ethers.provider.send("evm_increaseTime", [Number(seconds)]);
      await mine();
    },
    async now() {
      const block = await ethers.provider.getBlock("latest");
      return block?.timestamp ?? 0;
    },
    mine,
    close: () => connection.close(),
  };
}

/** Vote support values of GovernorCountingSimple. */
export const Vote = { Against: 0, For: 1, Abstain: 2 } as const;

/** IGovernor.ProposalState, as `state(proposalId)` returns it. */
export const ProposalState = {
  Pending: 0n,
  Active: 1n,
  Canceled: 2n,
  Defeated: 3n,
  Succeeded: 4n,
  Queued: 5n,
  Expired: 6n,
  Executed: 7n,
} as const;

/**
 * Drives one proposal through its lifecycle, like OpenZeppelin's GovernorHelper: propose, wait, vote,
 * queue, execute. Each step returns the transaction receipt.
 */
export class GovernanceHelper {
  readonly targets: string[];
  readonly values: bigint[];
  readonly calldatas: string[];
  readonly description: string;
  readonly descriptionHash: string;

  constructor(
    readonly chain: Chain,
    actions: Action[],
    description = `Proposal ${Math.random().toString(36).slice(2)}`,
  ) {
    const calls = actions.map((a) => encodeAction(chain.deployment.contracts, a));
    this.targets = calls.map((c) => c.target);
    this.values = calls.map((c) => c.value);
    this.calldatas = calls.map((c) => c.calldata);
    this.description = description;
    this.descriptionHash = id(description);
  }

  governor(runner?: ContractRunner): Contract {
    return this.chain.contract("governor", runner);
  }

  async id(): Promise<bigint> {
    return this.governor().hashProposal(this.targets, this.values, this.calldatas, this.descriptionHash);
  }

  async propose(proposer: Signer = this.chain.signers[0] as Signer) {
    const tx = await this.governor(proposer).propose(this.targets, this.values, this.calldatas, this.description);
    return tx.wait();
  }

  async waitForSnapshot(offset = 0) {
    const snapshot: bigint = await this.governor().proposalSnapshot(await this.id());
    await this.waitUntil(Number(snapshot) + 1 + offset);
  }

  async waitForDeadline(offset = 0) {
    const deadline: bigint = await this.governor().proposalDeadline(await this.id());
    await this.waitUntil(Number(deadline) + 1 + offset);
  }

  async waitForEta() {
    const eta: bigint = await this.governor().proposalEta(await this.id());
    await this.waitUntil(Number(eta));
  }

  async vote(voter: Signer, support: number, reason?: string) {
    const governor = this.governor(voter);
    const proposalId = await this.id();
    const tx = reason
      ? await governor.castVoteWithReason(proposalId, support, reason)
      : await governor.castVote(proposalId, support);
    return tx.wait();
  }

  /**
   * Signs an EIP-712 ballot with `voter` (an ethers signer) for relaying by anyone; with `reason`, the
   * ExtendedBallot (reason, empty params) of castVoteWithReasonAndParamsBySig. At the voter's nonce keyed by
   * this proposal (GovernorNoncesKeyed), so that ballots for other proposals never invalidate it.
   */
  async signBallot(voter: Signer | HDNodeWallet | Wallet, support: number, reason?: string) {
    const governor = this.governor();
    const proposalId = await this.id();
    const nonce: bigint = await governor.getFunction("nonces(address,uint192)")(
      voter.address,
      proposalNonceKey(proposalId),
    );
    const { chainId } = await this.chain.provider.getNetwork();
    const domain = {
      name: await governor.name(),
      version: await governor.version(),
      chainId,
      verifyingContract: await governor.getAddress(),
    };
    const ballot = [
      { name: "proposalId", type: "uint256" },
      { name: "support", type: "uint8" },
      { name: "voter", type: "address" },
      { name: "nonce", type: "uint256" },
    ];
    const value = { proposalId, support, voter: voter.address, nonce };
    const signature =
      reason === undefined
        ? await voter.signTypedData(domain, { Ballot: ballot }, value)
        : await voter.signTypedData(
            domain,
            {
              ExtendedBallot: [...ballot, { name: "reason", type: "string" }, { name: "params", type: "bytes" }],
            },
            { ...value, reason, params: "0x" },
          );
    return { proposalId, support, voter: voter.address, nonce, signature };
  }

  async queue() {
    return (await this.governor().queue(this.targets, this.values, this.calldatas, this.descriptionHash)).wait();
  }

  async execute(executor?: Signer) {
    return (
      await this.governor(executor).execute(this.targets, this.values, this.calldatas, this.descriptionHash)
    ).wait();
  }

  async cancel(proposer: Signer = this.chain.signers[0] as Signer) {
    return (
      await this.governor(proposer).cancel(this.targets, this.values, this.calldatas, this.descriptionHash)
    ).wait();
  }

  /** propose → vote For with every holder → queue → execute. */
  async pass(voters: Signer[] = this.chain.signers.slice(0, 3)) {
    await this.passAndQueue(voters);
    await this.waitForEta();
    return this.execute();
  }

  /** propose → vote For with every holder → queue; returns the queue receipt, leaving execution to the test. */
  async passAndQueue(voters: Signer[] = this.chain.signers.slice(0, 3)) {
    await this.propose();
    await this.waitForSnapshot();
    for (const v of voters) await this.vote(v, Vote.For);
    await this.waitForDeadline();
    return this.queue();
  }

  private async waitUntil(timestamp: number) {
    const now = await this.chain.now();
    if (timestamp > now) await this.chain.increaseTime(timestamp - now);
  }
}

/** A policy action with sensible defaults, for tests. */
export function policyAction(
  overrides: Partial<Extract<Action, { kind: "SET_MODEL_POLICY" }>> = {},
): Extract<Action, { kind: "SET_MODEL_POLICY" }> {
  return {
    kind: "SET_MODEL_POLICY",
    modelId: "commons-dev-1",
    approved: true,
    maxTokensPerRequest: 512,
    requestsPerMinute: 60,
    allowedPurposes: ["research", "education"],
    blockedTerms: ["forbidden-term"],
    guidelineUri: "ipfs://guidelines/commons-dev-1",
    guidelineHash: id("guideline commons-dev-1"),
    ...overrides,
  };
}

/**
 * A signer that sends as `address` (for example the timelock), funded for gas: lets a test call
 * owner-only functions directly instead of passing a proposal for every input it checks.
 */
export async function impersonate(chain: Chain, address: string): Promise<Signer> {
  await chain.provider.send("hardhat_impersonateAccount", [address]);
  await chain.provider.send("hardhat_setBalance", [address, `0x${(10n ** 20n).toString(16)}`]);
  return chain.ethers.getSigner(address);
}

/** A decoded event or custom error: its name and its arguments as plain values (structs as arrays). */
export interface Decoded {
  name: string;
  args: unknown[];
}

/** The events `role`'s contract emitted in `receipt`, decoded with its ABI, in log order. */
export function eventsOf(chain: Chain, receipt: TransactionReceipt | null, role: ContractRole): Decoded[] {
  const address = chain.deployment.contracts[role];
  const iface = contractInterface(role);
  return (receipt?.logs ?? [])
    .filter((log) => log.address === address)
    .map((log) => iface.parseLog(log))
    .filter((parsed) => parsed !== null)
    .map((parsed) => ({ name: parsed.name, args: parsed.args.toArray(true) }));
}

let systemErrors: Interface | undefined;

/** One interface holding every custom error of the system, so a revert bubbling up from any contract decodes. */
function systemErrorInterface(): Interface {
  if (!systemErrors) {
    const bySelector = new Map<string, ErrorFragment>();
    for (const role of Object.keys(contractNames) as ContractRole[]) {
      contractInterface(role).forEachError((fragment) => {
        bySelector.set(fragment.selector, fragment);
      });
    }
    systemErrors = new Interface([...bySelector.values()]);
  }
  return systemErrors;
}

function revertData(error: unknown): string | undefined {
  const e = error as { data?: unknown; info?: { error?: { data?: unknown } } };
  const data = e.data ?? e.info?.error?.data;
  return typeof data === "string" && data.startsWith("0x") ? data : undefined;
}

/**
 * The custom error `pending` (a call or a transaction) reverted with. Rethrows anything that is not a
 * revert with one of our contracts' errors, and fails when `pending` succeeds.
 */
export async function revertOf(pending: Promise<unknown>): Promise<Decoded> {
  try {
    await pending;
  } catch (error) {
    const data = revertData(error);
    const parsed = data ? systemErrorInterface().parseError(data) : null;
    if (!parsed) throw error;
    return { name: parsed.name, args: parsed.args.toArray(true) };
  }
  throw new Error("expected a revert, but the call succeeded");
}

/** The hash the registry stores for a SET_MODEL_POLICY action's rules: keccak256(abi.encode(PolicyInput)). */
export function rulesHash(action: Action): string {
  if (action.kind !== "SET_MODEL_POLICY") throw new Error(`${action.kind} sets no policy`);
  const input = contractInterface("registry").getFunction("matchesRules")?.inputs[1];
  if (!input) throw new Error("the registry's ABI has no matchesRules");
  return keccak256(AbiCoder.defaultAbiCoder().encode([input], [policyRulesToAbi(action)]));
}

/** What the registry stores for a SET_MODEL_POLICY action: its PolicyInput struct, read back as an array. */
export function policyRules(action: Action): unknown[] {
  if (action.kind !== "SET_MODEL_POLICY") throw new Error(`${action.kind} sets no policy`);
  return [
    action.approved,
    BigInt(action.maxTokensPerRequest),
    BigInt(action.requestsPerMinute),
    action.allowedPurposes,
    action.blockedTerms,
    action.guidelineUri,
    action.guidelineHash,
  ];
}

/** A grant action with sensible defaults (any model, 1,000 tokens per epoch, a past period), for tests. */
export function grantAction(
  overrides: Partial<Extract<Action, { kind: "GRANT_ALLOCATION" }>> = {},
): Extract<Action, { kind: "GRANT_ALLOCATION" }> {
  return {
    kind: "GRANT_ALLOCATION",
    grantee: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    modelId: "",
    tokensPerEpoch: 1_000n,
    start: 1_000,
    end: 2_000,
    ...overrides,
  };
}
