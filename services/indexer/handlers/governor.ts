import { id as keccakText } from "ethers";
import { decodeCall } from "../../chain/actions.ts";
import { timelockOperationId } from "../../chain/timelock-operation.ts";
import {
  cancellerOf,
  enactedBy,
  knownProposal,
  type ProposalRow,
  proposalEvent,
  recordProposalEvent,
  timeOf,
  transition,
} from "../range-state.ts";
import type { Handlers } from "./handler.ts";

/** The governor: proposals and their votes, its settings, its guardian. */
export const governor: Handlers<
  | "ProposalCreated"
  | "ProposalQueued"
  | "ProposalExecuted"
  | "ProposalCanceled"
  | "ProposalExtended"
  | "VoteCast"
  | "GovernorSettingChanged"
  | "ProposalGuardianSet"
> = {
  ProposalCreated(s, e) {
    const block = e.blockNumber;
    const descriptionHash = keccakText(e.description);
    const { contracts } = s.deployment;
    const actions = e.targets.map((target, i) => jsonSafe(decodeCall(contracts, target, e.calldatas[i] as string)));
    const p: ProposalRow = {
      id: e.proposalId.toString(),
      proposer: e.proposer,
      description: e.description,
      description_hash: descriptionHash,
      targets: e.targets,
      values: e.values.map(String),
      calldatas: e.calldatas,
      operation_id: timelockOperationId(contracts.governor, e.targets, e.values, e.calldatas, descriptionHash),
      actions,
      kinds: [...new Set(actions.map((a) => a.kind as string))],
      vote_start: e.voteStart,
      vote_end: e.voteEnd,
      eta: null,
      status: "PENDING",
      for_votes: "0",
      against_votes: "0",
      abstain_votes: "0",
      vote_count: 0,
      quorum: "0",
      super_quorum: null,
      canceled_by: null,
      created_block: block,
      created_time: timeOf(s, block),
      created_tx: e.txHash,
      created_log_index: e.logIndex,
      updated_block: block,
    };
    s.proposals.set(p.id, p);
    s.byOperation.set(p.operation_id, p);
    s.created.add(p.id);
    recordProposalEvent(s, p, e, "CREATED", { voteStart: e.voteStart, voteEnd: e.voteEnd });
  },
  ProposalQueued(s, e) {
    const p = knownProposal(s, e.proposalId);
    if (p) proposalEvent(s, p, e, { event: "QUEUED", eta: e.eta }, { eta: e.eta });
  },
  ProposalExecuted(s, e) {
    const p = knownProposal(s, e.proposalId);
    if (p) proposalEvent(s, p, e, { event: "EXECUTED" }, null);
  },
  ProposalCanceled(s, e) {
    const p = knownProposal(s, e.proposalId);
    if (!p) return;
    const by = cancellerOf(s, e);
    proposalEvent(s, p, e, { event: "CANCELED", by }, { by });
  },
  ProposalExtended(s, e) {
    const p = knownProposal(s, e.proposalId);
    if (p) proposalEvent(s, p, e, { event: "EXTENDED", deadline: e.deadline }, { deadline: e.deadline });
  },
  VoteCast(s, e) {
    const p = knownProposal(s, e.proposalId);
    if (!p) return;
    const block = e.blockNumber;
    transition(s, p, { event: "VOTE", support: e.support, weight: e.weight }, block);
    s.rows.votes.push({
      proposal_id: p.id,
      voter: e.voter,
      support: e.support,
      weight: e.weight.toString(),
      reason: e.reason,
      block_number: block,
      block_time: timeOf(s, block),
      tx_hash: e.txHash,
      log_index: e.logIndex,
    });
    s.voteNotes.push({ type: "vote", proposalId: p.id, voter: e.voter });
  },
  GovernorSettingChanged(s, e) {
    const time = timeOf(s, e.blockNumber);
    s.rows.settings.push({
      setting: e.setting,
      value: e.value.toString(),
      effective_from: time,
      proposal_id: enactedBy(s, e),
      block_number: e.blockNumber,
      log_index: e.logIndex,
      tx_hash: e.txHash,
    });
    if (e.setting === "QUORUM_NUMERATOR") s.quorumFrom = Math.min(s.quorumFrom ?? time, time);
  },
  ProposalGuardianSet(s, e) {
    s.rows.guardian.push({
      block_number: e.blockNumber,
      log_index: e.logIndex,
      kind: "GUARDIAN",
      value: e.guardian,
      proposal_id: enactedBy(s, e),
      block_time: timeOf(s, e.blockNumber),
      tx_hash: e.txHash,
    });
  },
};

/** Actions as JSON: bigints become decimal strings. */
function jsonSafe(action: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(action).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]),
  ) as Record<string, unknown>;
}
