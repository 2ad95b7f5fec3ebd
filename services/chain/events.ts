import { type EventFragment, getAddress, type Interface, type Result } from "ethers";
import { type PolicyRules, policyRulesFromAbi } from "./actions.ts";
import { type ContractRole, contractInterface } from "./artifacts.ts";
import { type Deployment, governanceOf } from "./deployment.ts";

/** A log as the node returns it, reduced to what decoding needs (no per-log wrapper objects). */
export interface RawLog {
  address: string;
  topics: readonly string[];
  data: string;
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  index: number;
}

/** Where an event happened; every indexed row carries this provenance. */
export interface EventOrigin {
  blockNumber: number;
  blockHash: string;
  txHash: string;
  logIndex: number;
}

export interface PoolParams {
  allowancePerAddress: bigint;
  poolSizePerEpoch: bigint;
  epochLength: number;
}

export type GovernorSettingName =
  | "VOTING_DELAY"
  | "VOTING_PERIOD"
  | "PROPOSAL_THRESHOLD"
  | "QUORUM_NUMERATOR"
  | "LATE_QUORUM_EXTENSION"
  | "SUPER_QUORUM_NUMERATOR";

/**
 * The chain events the index is built from, as a tagged union. Addresses are checksummed and uint256
 * values are bigints: normalised once, here.
 */
export type GovernanceEvent = EventOrigin &
  (
    | { type: "Transfer"; from: string; to: string; value: bigint }
    | { type: "DelegateChanged"; delegator: string; fromDelegate: string; toDelegate: string }
    | { type: "DelegateVotesChanged"; delegate: string; newVotes: bigint }
    | {
        type: "ProposalCreated";
        proposalId: bigint;
        proposer: string;
        targets: string[];
        values: bigint[];
        calldatas: string[];
        voteStart: number;
        voteEnd: number;
        description: string;
      }
    | { type: "ProposalQueued"; proposalId: bigint; eta: number }
    | { type: "ProposalExecuted"; proposalId: bigint }
    | { type: "ProposalCanceled"; proposalId: bigint }
    | { type: "ProposalExtended"; proposalId: bigint; deadline: number }
    | { type: "VoteCast"; voter: string; proposalId: bigint; support: number; weight: bigint; reason: string }
    | { type: "GovernorSettingChanged"; setting: GovernorSettingName; value: bigint }
    | { type: "TimelockCallExecuted"; operationId: string }
    | { type: "TimelockCancelled"; operationId: string }
    | { type: "PolicySet"; modelId: string; version: number; rules: PolicyRules }
    | {
        type: "ModelSuspended";
        modelId: string;
        previousVersion: number;
        version: number;
        reason: string;
        /** Set for the guardian's brake (ModelSuspendedByGuardian): who, and when it lapses (Unix seconds). */
        guardian: { address: string; until: number } | null;
      }
    | { type: "ProposalGuardianSet"; guardian: string }
    | { type: "GuardianSuspensionPeriodSet"; period: number }
    | {
        type: "GrantCreated";
        grantId: bigint;
        grantee: string;
        modelId: string;
        tokensPerEpoch: bigint;
        start: number;
        end: number;
      }
    | { type: "GrantRevoked"; grantId: bigint }
    | { type: "CommunityPoolSet"; pool: PoolParams }
    | { type: "PoolEligibilitySet"; minVotes: bigint }
  );

const settingEvents: Record<string, GovernorSettingName> = {
  VotingDelaySet: "VOTING_DELAY",
  VotingPeriodSet: "VOTING_PERIOD",
  ProposalThresholdSet: "PROPOSAL_THRESHOLD",
  QuorumNumeratorUpdated: "QUORUM_NUMERATOR",
  LateQuorumVoteExtensionSet: "LATE_QUORUM_EXTENSION",
  SuperQuorumNumeratorUpdated: "SUPER_QUORUM_NUMERATOR",
};

/** Events the index reads, per contract; everything else the contracts emit is ignored. */
const watched: Record<Exclude<ContractRole, never>, string[]> = {
  token: ["Transfer", "DelegateChanged", "DelegateVotesChanged"],
  governor: [
    "ProposalCreated",
    "ProposalQueued",
    "ProposalExecuted",
    "ProposalCanceled",
    "ProposalExtended",
    "VoteCast",
    "VoteCastWithParams",
    "ProposalGuardianSet",
    ...Object.keys(settingEvents),
  ],
  timelock: ["CallExecuted", "Cancelled"],
  registry: ["PolicySet", "ModelSuspended", "ModelSuspendedByGuardian", "GuardianSuspensionPeriodSet"],
  allocator: ["GrantCreated", "GrantRevoked", "CommunityPoolSet", "PoolEligibilitySet"],
};

type Origin = ReturnType<typeof governanceOf>["origin"];

/**
 * An existing DAO's token is followed for delegation only: its balances began before the index did
 * (and an ERC721Votes Transfer, with its indexed token id, does not decode as an ERC-20 one).
 */
function watchedOf(origin: Origin, role: ContractRole): string[] {
  return origin === "existing" && role === "token"
    ? watched.token.filter((name) => name !== "Transfer")
    : watched[role];
}

/** The eth_getLogs filter for a deployment: its five addresses and the topics of the watched events. */
export function logFilter(deployment: Deployment): { address: string[]; topics: string[][] } {
  const origin = governanceOf(deployment).origin;
  const topics = new Set<string>();
  for (const role of Object.keys(watched) as ContractRole[]) {
    const iface = contractInterface(role);
    for (const name of watchedOf(origin, role)) topics.add(iface.getEvent(name)?.topicHash as string);
  }
  return { address: Object.values(deployment.contracts), topics: [[...topics]] };
}

/** Watched events of one contract by topic hash: a map lookup per log instead of a scan of the ABI. */
const watchedByTopic = new Map<Origin, Map<ContractRole, Map<string, { iface: Interface; fragment: EventFragment }>>>();

function watchedEvent(origin: Origin, role: ContractRole, topic: string | undefined) {
  let byRole = watchedByTopic.get(origin);
  if (!byRole) {
    byRole = new Map();
    watchedByTopic.set(origin, byRole);
  }
  let byTopic = byRole.get(role);
  if (!byTopic) {
    const iface = contractInterface(role);
    byTopic = new Map(
      watchedOf(origin, role).map((name) => {
        const fragment = iface.getEvent(name) as EventFragment;
        return [fragment.topicHash, { iface, fragment }];
      }),
    );
    byRole.set(role, byTopic);
  }
  return topic === undefined ? undefined : byTopic.get(topic);
}

/**
 * Decodes logs of the deployment's contracts, in chain order. A log that is not one of ours (or not
 * watched) is skipped; a watched log that does not decode is a malformed answer and throws.
 */
export function decodeLogs(deployment: Deployment, logs: readonly RawLog[]): GovernanceEvent[] {
  const governance = governanceOf(deployment).origin;
  const roleOf = new Map<string, ContractRole>(
    Object.entries(deployment.contracts).map(([role, address]) => [address.toLowerCase(), role as ContractRole]),
  );
  const sorted = [...logs].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
  const events: GovernanceEvent[] = [];
  for (const log of sorted) {
    const role = roleOf.get(log.address.toLowerCase());
    const watchedLog = role && watchedEvent(governance, role, log.topics[0]);
    if (!watchedLog) continue;
    const origin: EventOrigin = {
      blockNumber: log.blockNumber,
      blockHash: log.blockHash,
      txHash: log.transactionHash,
      logIndex: log.index,
    };
    const name = watchedLog.fragment.name;
    const event =
      name === "VoteCast" || name === "VoteCastWithParams"
        ? decodeVoteCast(log)
        : toEvent(name, watchedLog.iface.decodeEventLog(watchedLog.fragment, log.data, log.topics));
    if (event) events.push({ ...origin, ...event } as GovernanceEvent);
  }
  return events;
}

const checksummed = new Map<string, string>();

/** getAddress with a cache: checksumming hashes, and the same voters and holders recur in every range. */
function address(lowercaseOrMixed: string): string {
  const key = lowercaseOrMixed.toLowerCase();
  let value = checksummed.get(key);
  if (!value) {
    value = getAddress(key);
    checksummed.set(key, value);
  }
  return value;
}

/**
 * VoteCast and VoteCastWithParams share their first four data words (proposalId, support, weight,
 * offset of reason) and the indexed voter. Votes are nearly all of a governance history, and the
 * generic ABI decoder spends ~100 µs on each, so they are read here directly (tested against the
 * generic decoder in test/indexer/events.test.ts).
 */
function decodeVoteCast(log: RawLog): EventBody {
  const hex = log.data.slice(2);
  const word = (byteOffset: number) => {
    const w = hex.slice(byteOffset * 2, byteOffset * 2 + 64);
    if (w.length !== 64) throw new Error(`VoteCast log at ${log.blockNumber}:${log.index} is truncated`);
    return BigInt(`0x${w}`);
  };
  const reasonOffset = Number(word(96));
  const reasonLength = Number(word(reasonOffset));
  const reasonStart = (reasonOffset + 32) * 2;
  const reasonHex = hex.slice(reasonStart, reasonStart + reasonLength * 2);
  const voterTopic = log.topics[1];
  if (reasonHex.length !== reasonLength * 2 || !voterTopic) {
    throw new Error(`VoteCast log at ${log.blockNumber}:${log.index} is truncated`);
  }
  return {
    type: "VoteCast",
    voter: address(`0x${voterTopic.slice(26)}`),
    proposalId: word(0),
    support: Number(word(32)),
    weight: word(64),
    reason: Buffer.from(reasonHex, "hex").toString("utf8"),
  };
}

type EventBody = GovernanceEvent extends infer E ? (E extends EventOrigin ? Omit<E, keyof EventOrigin> : never) : never;

function toEvent(name: string, a: Result): EventBody | null {
  const setting = settingEvents[name];
  if (setting) return { type: "GovernorSettingChanged", setting, value: BigInt(a[1]) };
  switch (name) {
    case "Transfer":
      return { type: "Transfer", from: getAddress(a.from), to: getAddress(a.to), value: BigInt(a.value) };
    case "DelegateChanged":
      return {
        type: "DelegateChanged",
        delegator: getAddress(a.delegator),
        fromDelegate: getAddress(a.fromDelegate),
        toDelegate: getAddress(a.toDelegate),
      };
    case "DelegateVotesChanged":
      return { type: "DelegateVotesChanged", delegate: getAddress(a.delegate), newVotes: BigInt(a.newVotes) };
    case "ProposalCreated":
      return {
        type: "ProposalCreated",
        proposalId: BigInt(a.proposalId),
        proposer: getAddress(a.proposer),
        targets: [...a.targets].map((t: string) => getAddress(t)),
        // Positional: `values` is also the name of an Array method on ethers' Result.
        values: [...a[3]].map((v: bigint) => BigInt(v)),
        calldatas: [...a.calldatas],
        voteStart: Number(a.voteStart),
        voteEnd: Number(a.voteEnd),
        description: a.description,
      };
    case "ProposalQueued":
      return { type: "ProposalQueued", proposalId: BigInt(a.proposalId), eta: Number(a.etaSeconds) };
    case "ProposalExecuted":
      return { type: "ProposalExecuted", proposalId: BigInt(a.proposalId) };
    case "ProposalCanceled":
      return { type: "ProposalCanceled", proposalId: BigInt(a.proposalId) };
    case "ProposalExtended":
      return { type: "ProposalExtended", proposalId: BigInt(a.proposalId), deadline: Number(a.extendedDeadline) };
    case "VoteCast":
    case "VoteCastWithParams":
      return {
        type: "VoteCast",
        voter: getAddress(a.voter),
        proposalId: BigInt(a.proposalId),
        support: Number(a.support),
        weight: BigInt(a.weight),
        reason: a.reason,
      };
    case "CallExecuted":
      return { type: "TimelockCallExecuted", operationId: a.id };
    case "Cancelled":
      return { type: "TimelockCancelled", operationId: a.id };
    case "PolicySet":
      return {
        type: "PolicySet",
        modelId: a.modelId,
        version: Number(a.version),
        rules: policyRulesFromAbi(a.policy),
      };
    case "ModelSuspended":
      return {
        type: "ModelSuspended",
        modelId: a.modelId,
        previousVersion: Number(a.previousVersion),
        version: Number(a.version),
        reason: a.reason,
        guardian: null,
      };
    case "ModelSuspendedByGuardian":
      return {
        type: "ModelSuspended",
        modelId: a.modelId,
        previousVersion: Number(a.previousVersion),
        version: Number(a.version),
        reason: a.reason,
        guardian: { address: getAddress(a.guardian), until: Number(a.suspendedUntil) },
      };
    case "ProposalGuardianSet":
      return { type: "ProposalGuardianSet", guardian: getAddress(a.newProposalGuardian) };
    case "GuardianSuspensionPeriodSet":
      return { type: "GuardianSuspensionPeriodSet", period: Number(a.period) };
    case "GrantCreated":
      return {
        type: "GrantCreated",
        grantId: BigInt(a.grantId),
        grantee: getAddress(a.grantee),
        modelId: a.modelId,
        tokensPerEpoch: BigInt(a.tokensPerEpoch),
        start: Number(a.start),
        end: Number(a.end),
      };
    case "GrantRevoked":
      return { type: "GrantRevoked", grantId: BigInt(a.grantId) };
    case "CommunityPoolSet": {
      const p = a.current;
      return {
        type: "CommunityPoolSet",
        pool: {
          allowancePerAddress: BigInt(p.allowancePerAddress),
          poolSizePerEpoch: BigInt(p.poolSizePerEpoch),
          epochLength: Number(p.epochLength),
        },
      };
    }
    case "PoolEligibilitySet":
      return { type: "PoolEligibilitySet", minVotes: BigInt(a.minVotes) };
    default:
      return null;
  }
}
