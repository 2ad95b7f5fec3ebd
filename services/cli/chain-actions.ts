import { Contract, type ContractRunner, type Interface, type Signer, type TransactionReceipt } from "ethers";
// Shared with the web app, which signs with the browser wallet: nothing Node-only (see package.json "imports").
import { contractInterface } from "#contract-interfaces";
import { type ContractRole, type Deployment, proposalNonceKey } from "../chain/contracts.ts";
import { AppError } from "../shared/errors.ts";
import { isUnreachable } from "./service.ts";

export type Support = "AGAINST" | "FOR" | "ABSTAIN";
const supportNumber: Record<Support, number> = { AGAINST: 0, FOR: 1, ABSTAIN: 2 };

/** What queue and execute need of a proposal (as the index returns it). */
export interface ProposalCalls {
  targets: string[];
  values: string[];
  calldatas: string[];
  descriptionHash: string;
}

export function contractOf(deployment: Deployment, role: ContractRole, runner: ContractRunner): Contract {
  return new Contract(deployment.contracts[role], contractInterface(role), runner);
}

/** A revert named by our contracts' custom errors (GovernorUnexpectedProposalState(...)), else as it came. */
function describeRevert(error: unknown, ifaces: Interface[]): { text: string; contractError?: string } {
  const e = error as { data?: unknown; info?: { error?: { data?: unknown; message?: string } }; shortMessage?: string };
  const data = e.data ?? e.info?.error?.data;
  if (typeof data === "string" && data.startsWith("0x")) {
    for (const iface of ifaces) {
      const parsed = iface.parseError(data);
      if (parsed) return { text: `${parsed.name}(${parsed.args.map(String).join(", ")})`, contractError: parsed.name };
    }
  }
  return { text: e.shortMessage ?? e.info?.error?.message ?? (error instanceof Error ? error.message : String(error)) };
}

/**
 * Sends one transaction and waits for it to be mined; a revert becomes TRANSACTION_REVERTED naming its
 * reason, and a chain that cannot be reached RPC_ERROR (nothing was reverted: trying again may work).
 */
export async function send(what: string, pending: () => Promise<{ wait(): Promise<TransactionReceipt | null> }>) {
  const ifaces = (["governor", "token", "timelock", "registry", "allocator"] as const).map(contractInterface);
  try {
    const tx = await pending();
    const receipt = await tx.wait();
    if (!receipt) throw new Error("the transaction was dropped");
    return receipt;
  } catch (cause) {
    if (isUnreachable(cause)) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new AppError("RPC_ERROR", `${what} failed: the chain's JSON-RPC cannot be reached (${reason})`, { cause });
    }
    const revert = describeRevert(cause, ifaces);
    // contractError lets a client put the contract's refusal in its own words (the web app does).
    throw new AppError("TRANSACTION_REVERTED", `${what} failed: ${revert.text}`, {
      cause,
      ...(revert.contractError ? { details: { contractError: revert.contractError } } : {}),
    });
  }
}

export function delegate(deployment: Deployment, wallet: Signer, to: string) {
  return send(`delegating to ${to}`, () => contractOf(deployment, "token", wallet).getFunction("delegate")(to));
}

export function castVote(
  deployment: Deployment,
  wallet: Signer,
  proposalId: bigint,
  support: Support,
  reason?: string,
) {
  const governor = contractOf(deployment, "governor", wallet);
  return send(`voting on ${proposalId}`, () =>
    reason
      ? governor.getFunction("castVoteWithReason")(proposalId, supportNumber[support], reason)
      : governor.getFunction("castVote")(proposalId, supportNumber[support]),
  );
}

/**
 * The nonce a ballot for `proposalId` is signed at: the voter's nonce keyed by the proposal on a governor
 * with GovernorNoncesKeyed (ours), else (an existing DAO's governor) the voter's one sequential nonce.
 */
export async function ballotNonce(governor: Contract, voter: string, proposalId: bigint): Promise<bigint> {
  try {
    return (await governor.getFunction("nonces(address,uint192)")(voter, proposalNonceKey(proposalId))) as bigint;
  } catch {
    return (await governor.getFunction("nonces(address)")(voter)) as bigint;
  }
}

/**
 * Signs an EIP-712 ballot for castVoteBySig: Ballot, or ExtendedBallot (reason, empty params) when a
 * reason is given. The domain and the voter's nonce (keyed by the proposal, see ballotNonce) are read
 * from the governor.
 */
export async function signBallot(
  deployment: Deployment,
  wallet: Signer,
  proposalId: bigint,
  support: Support,
  reason?: string,
): Promise<string> {
  const governor = contractOf(deployment, "governor", wallet);
  const [, name, version] = (await governor.getFunction("eip712Domain")()) as [string, string, string];
  const voter = await wallet.getAddress();
  const nonce = await ballotNonce(governor, voter, proposalId);
  const domain = { name, version, chainId: deployment.chainId, verifyingContract: deployment.contracts.governor };
  const base = { proposalId, support: supportNumber[support], voter, nonce };
  const fields = [
    { name: "proposalId", type: "uint256" },
    { name: "support", type: "uint8" },
    { name: "voter", type: "address" },
    { name: "nonce", type: "uint256" },
  ];
  if (reason === undefined) return wallet.signTypedData(domain, { Ballot: fields }, base);
  return wallet.signTypedData(
    domain,
    {
      ExtendedBallot: [...fields, { name: "reason", type: "string" }, { name: "params", type: "bytes" }],
    },
    { ...base, reason, params: "0x" },
  );
}

export function queueProposal(deployment: Deployment, wallet: Signer, p: ProposalCalls) {
  const governor = contractOf(deployment, "governor", wallet);
  return send("queueing", () => governor.getFunction("queue")(p.targets, p.values, p.calldatas, p.descriptionHash));
}

export function executeProposal(deployment: Deployment, wallet: Signer, p: ProposalCalls) {
  const governor = contractOf(deployment, "governor", wallet);
  return send("executing", () => governor.getFunction("execute")(p.targets, p.values, p.calldatas, p.descriptionHash));
}
