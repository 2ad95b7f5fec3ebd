import { type ErrorDescription, isHexString } from "ethers";
import { type ContractRole, contractInterface, contractNames } from "../../chain/artifacts.ts";
import { AppError, type ErrorCode } from "../../shared/errors.ts";

/** What a contract's custom error means for the client that asked for the relay. */
const meanings: Record<string, { code: ErrorCode; reason: string }> = {
  GovernorAlreadyCastVote: { code: "BAD_USER_INPUT", reason: "ALREADY_VOTED" },
  GovernorInvalidSignature: { code: "BAD_USER_INPUT", reason: "BAD_SIGNATURE" },
  GovernorUnexpectedProposalState: { code: "BAD_USER_INPUT", reason: "WRONG_PROPOSAL_STATE" },
  GovernorNonexistentProposal: { code: "NOT_FOUND", reason: "NO_SUCH_PROPOSAL" },
  GovernorInsufficientProposerVotes: { code: "BAD_USER_INPUT", reason: "NO_VOTING_POWER" },
  GovernorRestrictedProposer: { code: "FORBIDDEN", reason: "RESTRICTED_PROPOSER" },
  GovernorInvalidProposalLength: { code: "BAD_USER_INPUT", reason: "INVALID_PROPOSAL" },
  GovernorOnlyProposer: { code: "FORBIDDEN", reason: "ONLY_PROPOSER" },
  InvalidAccountNonce: { code: "BAD_USER_INPUT", reason: "NONCE_INVALID" },
  VotesExpiredSignature: { code: "BAD_USER_INPUT", reason: "EXPIRED_SIGNATURE" },
  TimelockUnexpectedOperationState: { code: "BAD_USER_INPUT", reason: "WRONG_PROPOSAL_STATE" },
  TimelockUnexecutedPredecessor: { code: "BAD_USER_INPUT", reason: "WRONG_PROPOSAL_STATE" },
};

/** The revert data an ethers error carries, wherever the provider put it. */
function revertData(error: unknown): string | undefined {
  const e = error as { data?: unknown; error?: { data?: unknown }; info?: { error?: { data?: unknown } } };
  for (const candidate of [e?.data, e?.error?.data, e?.info?.error?.data]) {
    if (typeof candidate === "string" && isHexString(candidate) && candidate.length >= 10) return candidate;
    const nested = (candidate as { data?: unknown } | undefined)?.data;
    if (typeof nested === "string" && isHexString(nested) && nested.length >= 10) return nested;
  }
  return undefined;
}

/** The custom error (or Error(string)/Panic) of revert data, decoded with our contracts' ABIs. */
export function decodeRevert(data: string): ErrorDescription | undefined {
  for (const role of Object.keys(contractNames) as ContractRole[]) {
    const decoded = contractInterface(role).parseError(data);
    if (decoded) return decoded;
  }
  return undefined;
}

function describe(error: ErrorDescription): string {
  const args = error.args.map((a) => (typeof a === "bigint" ? a.toString() : String(a))).join(", ");
  return `${error.name}(${args})`;
}

/**
 * The coded error a failed relay means: a revert decoded with the contracts' ABIs answers with what the
 * contract refused (a retry cannot help); anything else is the node's or the network's fault (RPC_ERROR).
 */
export function relayFailure(what: string, cause: unknown): AppError {
  const data = revertData(cause);
  const decoded = data ? decodeRevert(data) : undefined;
  if (decoded) {
    const meaning = meanings[decoded.name] ?? { code: "BAD_USER_INPUT" as const, reason: "REVERTED" };
    return new AppError(meaning.code, `${what} would revert: ${describe(decoded)}`, {
      cause,
      details: { reason: meaning.reason, revert: decoded.name },
    });
  }
  const e = cause as { code?: string; shortMessage?: string; message?: string };
  if (data || e?.code === "CALL_EXCEPTION") {
    return new AppError("BAD_USER_INPUT", `${what} would revert (revert data ${data ?? "none"})`, {
      cause,
      details: { reason: "REVERTED" },
    });
  }
  return new AppError("RPC_ERROR", `${what} failed: ${e?.shortMessage ?? e?.message ?? String(cause)}`, { cause });
}
