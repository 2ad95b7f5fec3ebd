import type { GovernanceEvent } from "../chain/events.ts";
import { deriveProposalState, type ProposalFacts as IndexedProposalFacts } from "../chain/proposal-state.ts";

/** Every event type a subscription can ask for (its `eventTypes` filter), as receivers see them. */
export const EVENT_TYPES = [
  "proposal.created",
  "proposal.voting_started",
  "proposal.voting_ending",
  "vote.cast",
  "proposal.succeeded",
  "proposal.defeated",
  "proposal.queued",
  "proposal.executed",
  "proposal.canceled",
  "policy.queued",
  "policy.executed",
  "budget.threshold",
  "guardian.action",
  /** A correction: the event named in `data.retracts` was for a block a reorg replaced. */
  "event.retracted",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** An event before it is written to the outbox. */
export interface EventDraft {
  type: EventType;
  /** Unique per fact: writing the same fact twice (a timelock and a governor event, a rescan) keeps one. */
  dedupeKey: string;
  proposalId: string | null;
  actor: string | null;
  recipient: string | null;
  models: string[] | null;
  /** The block that caused it (rolled back: the event is retracted); null for off-chain facts. */
  block: number | null;
  /** Unix seconds it happened at (the block's time, or the threshold's for a clock-driven event). */
  time: number;
  data: Record<string, unknown>;
}

/**
 * What the mapping needs to know of a proposal, read after the range was applied: what the index stores
 * (the chain's facts its state follows from), and what the events name.
 */
export interface ProposalFacts extends Omit<IndexedProposalFacts, "eta"> {
  id: string;
  operationId: string;
  /** Models its actions set or suspend (a policy change: announced to those who used them). */
  models: string[];
  /** Unix seconds it was canceled at; null: not canceled. */
  canceledAt: number | null;
  /** Clock-driven milestones already in the outbox (by dedupe key). */
  emitted: Set<string>;
}

export interface RangeFacts {
  events: GovernanceEvent[];
  /** Unix seconds of a block: known for every block with an event and for the range's last block. */
  blockTime(block: number): number;
  /** The range's blocks with a known time, ascending (the clock-driven events are placed on them). */
  knownBlocks: { number: number; time: number }[];
  /** The proposals this range touched, and every proposal still awaiting a clock-driven event. */
  proposals: Map<string, ProposalFacts>;
  /** Shadow-mode figures of a queued policy proposal, when shadow mode recorded any. */
  shadow: Map<string, Record<string, unknown>>;
  /** A "voting ends soon" event is due this many seconds before the deadline. */
  endingWithinS: number;
  /**
   * Voters some subscription follows: a vote is an event only for them (`vote.cast` goes to no one else),
   * so that a history of votes nobody follows costs the index no outbox rows.
   */
  followed: Set<string>;
}

const milestoneRank = { started: 0, ending: 1, decided: 2 } as const;

/**
 * The notification events one indexed range causes, in the order receivers get them: per proposal by
 * time, a clock-driven milestone (voting started, ending soon, decided) before any log of the same second.
 * Pure: the indexer's transaction reads the facts and writes the drafts.
 */
export function mapRange(facts: RangeFacts): EventDraft[] {
  const drafts: (EventDraft & { order: number })[] = [];
  const executedTx = new Set<string>();
  for (const e of facts.events) if (e.type === "ProposalExecuted") executedTx.add(e.txHash);
  const byOperation = new Map([...facts.proposals.values()].map((p) => [p.operationId, p]));
  const lastBlock = facts.knownBlocks.at(-1) as { number: number; time: number };

  const at = (e: GovernanceEvent) => ({ block: e.blockNumber, time: facts.blockTime(e.blockNumber) });
  const push = (draft: Omit<EventDraft, "actor" | "recipient" | "models"> & Partial<EventDraft>, order: number) =>
    drafts.push({ actor: null, recipient: null, models: null, ...draft, order });
  const lifecycle = (e: GovernanceEvent, p: ProposalFacts | undefined, type: EventType, extra = {}) => {
    if (!p) return;
    const suffix = type.slice("proposal.".length);
    push(
      {
        type,
        dedupeKey: `proposal:${p.id}:${suffix}`,
        proposalId: p.id,
        ...at(e),
        data: { proposalId: p.id, block: e.blockNumber, txHash: e.txHash, ...extra },
      },
      e.logIndex,
    );
    if (p.models.length > 0 && (type === "proposal.queued" || type === "proposal.executed")) {
      const policyType = type === "proposal.queued" ? "policy.queued" : "policy.executed";
      push(
        {
          type: policyType,
          dedupeKey: `${policyType}:${p.id}`,
          proposalId: p.id,
          models: p.models,
          ...at(e),
          data: {
            proposalId: p.id,
            models: p.models,
            block: e.blockNumber,
            txHash: e.txHash,
            ...(type === "proposal.queued" ? { eta: (extra as { eta?: number }).eta ?? null } : {}),
            shadow: facts.shadow.get(p.id) ?? null,
          },
        },
        e.logIndex + 0.5,
      );
    }
  };

  for (const e of facts.events) {
    switch (e.type) {
      case "ProposalCreated": {
        const p = facts.proposals.get(e.proposalId.toString());
        lifecycle(e, p, "proposal.created", {
          proposer: e.proposer,
          title: firstLine(e.description),
          voteStart: e.voteStart,
          voteEnd: e.voteEnd,
        });
        break;
      }
      case "ProposalQueued":
        lifecycle(e, facts.proposals.get(e.proposalId.toString()), "proposal.queued", { eta: e.eta });
        break;
      case "ProposalExecuted":
        lifecycle(e, facts.proposals.get(e.proposalId.toString()), "proposal.executed");
        break;
      case "ProposalCanceled":
        lifecycle(e, facts.proposals.get(e.proposalId.toString()), "proposal.canceled");
        break;
      case "TimelockCallExecuted":
        // Executed on the timelock directly; through the governor, ProposalExecuted says it.
        if (!executedTx.has(e.txHash)) lifecycle(e, byOperation.get(e.operationId), "proposal.executed");
        break;
      case "TimelockCancelled":
        lifecycle(e, byOperation.get(e.operationId), "proposal.canceled");
        break;
      case "VoteCast": {
        const proposalId = e.proposalId.toString();
        if (!facts.proposals.has(proposalId) || !facts.followed.has(e.voter)) break;
        push(
          {
            type: "vote.cast",
            dedupeKey: `log:${e.txHash}:${e.logIndex}`,
            proposalId,
            actor: e.voter,
            ...at(e),
            data: {
              proposalId,
              voter: e.voter,
              support: ["AGAINST", "FOR", "ABSTAIN"][e.support] ?? String(e.support),
              weight: e.weight.toString(),
              reason: e.reason,
              block: e.blockNumber,
              txHash: e.txHash,
            },
          },
          e.logIndex,
        );
        break;
      }
      case "ModelSuspended":
        if (!e.guardian) break;
        push(
          {
            type: "guardian.action",
            dedupeKey: `log:${e.txHash}:${e.logIndex}`,
            proposalId: null,
            actor: e.guardian.address,
            models: [e.modelId],
            ...at(e),
            data: {
              action: "MODEL_SUSPENDED",
              guardian: e.guardian.address,
              modelId: e.modelId,
              reason: e.reason,
              until: e.guardian.until,
              block: e.blockNumber,
              txHash: e.txHash,
            },
          },
          e.logIndex,
        );
        break;
      case "ProposalGuardianSet":
        push(
          {
            type: "guardian.action",
            dedupeKey: `log:${e.txHash}:${e.logIndex}`,
            proposalId: null,
            actor: e.guardian,
            ...at(e),
            data: { action: "GUARDIAN_SET", guardian: e.guardian, block: e.blockNumber, txHash: e.txHash },
          },
          e.logIndex,
        );
        break;
    }
  }

  // Clock-driven milestones: due once the range's last block is past their time (the governor judges
  // states by block time too), placed on the first known block at or after that time.
  const placed = (time: number) => facts.knownBlocks.find((b) => b.time >= time) ?? lastBlock;
  const early = earlySuccesses(facts);
  for (const p of facts.proposals.values()) {
    const due = (
      key: keyof typeof milestoneRank,
      when: { time: number; block?: number; order?: number },
      type: EventType,
      data: Record<string, unknown>,
    ) => {
      const dedupeKey = `proposal:${p.id}:${key}`;
      if (p.emitted.has(dedupeKey) || when.time > lastBlock.time) return;
      if (p.canceledAt !== null && p.canceledAt <= when.time) return;
      push(
        {
          type,
          dedupeKey,
          proposalId: p.id,
          block: when.block ?? placed(when.time).number,
          time: when.time,
          data: { proposalId: p.id, ...data },
        },
        when.order ?? -3 + milestoneRank[key],
      );
    };
    if (p.status === "CANCELED" && p.canceledAt === null) continue;
    due("started", { time: p.voteStart + 1 }, "proposal.voting_started", { voteEnd: p.voteEnd });
    const state = deriveProposalState({ ...p, eta: null, status: "PENDING" }, lastBlock.time);
    // Decided early (super quorum): at the vote that reached it; otherwise the second after the deadline.
    const decided =
      state === "SUCCEEDED" || state === "DEFEATED"
        ? (early.get(p.id) ?? { time: Math.min(p.voteEnd + 1, lastBlock.time) })
        : undefined;
    const endingAt = Math.max(p.voteStart + 1, p.voteEnd - facts.endingWithinS);
    // "Ends soon" is not sent for a vote already decided.
    const decidedFirst =
      p.emitted.has(`proposal:${p.id}:decided`) || (decided !== undefined && decided.time <= endingAt);
    if (!decidedFirst) due("ending", { time: endingAt }, "proposal.voting_ending", { voteEnd: p.voteEnd });
    if (decided) {
      due("decided", decided, state === "SUCCEEDED" ? "proposal.succeeded" : "proposal.defeated", {
        forVotes: p.forVotes.toString(),
        againstVotes: p.againstVotes.toString(),
        abstainVotes: p.abstainVotes.toString(),
        quorum: p.quorum.toString(),
      });
    }
  }

  return drafts
    .sort((a, b) => a.time - b.time || (a.block ?? 0) - (b.block ?? 0) || a.order - b.order)
    .map(({ order: _, ...draft }) => draft);
}

/**
 * Proposals whose For votes reached the super quorum (and outnumber Against) at a vote of this range: the
 * governor counts them SUCCEEDED from that vote's block. Tallies before the range are the ones after it
 * less the range's votes.
 */
function earlySuccesses(facts: RangeFacts): Map<string, { time: number; block: number; order: number }> {
  const found = new Map<string, { time: number; block: number; order: number }>();
  const tallies = new Map<string, { for: bigint; against: bigint }>();
  const votes = facts.events.filter((e) => e.type === "VoteCast");
  for (const v of votes) {
    const p = facts.proposals.get(v.proposalId.toString());
    if (!p || p.superQuorum === null || tallies.has(p.id)) continue;
    const inRange = votes.filter((x) => x.proposalId === v.proposalId);
    const sum = (support: number) => inRange.filter((x) => x.support === support).reduce((a, x) => a + x.weight, 0n);
    tallies.set(p.id, { for: p.forVotes - sum(1), against: p.againstVotes - sum(0) });
  }
  for (const v of votes) {
    const id = v.proposalId.toString();
    const p = facts.proposals.get(id);
    const tally = tallies.get(id);
    if (!p || !tally || p.superQuorum === null || found.has(id)) continue;
    const before = tally.for >= p.superQuorum && tally.for > tally.against;
    if (v.support === 1) tally.for += v.weight;
    if (v.support === 0) tally.against += v.weight;
    const after = tally.for >= p.superQuorum && tally.for > tally.against;
    if (!before && after && facts.blockTime(v.blockNumber) <= p.voteEnd) {
      found.set(id, { time: facts.blockTime(v.blockNumber), block: v.blockNumber, order: v.logIndex + 0.25 });
    }
  }
  return found;
}

/** Milestones that may still be due: a proposal awaits one until it is decided (or canceled). */
export const MILESTONE_KEYS = ["started", "ending", "decided"] as const;

function firstLine(text: string): string {
  return (text.split("\n")[0] ?? "").replace(/^#+\s*/, "").slice(0, 200);
}
