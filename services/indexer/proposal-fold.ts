import type { Selectable } from "kysely";
import type { Database } from "../db/schema.ts";

export type ProposalRow = Selectable<Database["proposals"]>;

/** What happens to an indexed proposal after its creation, in chain order. */
export type ProposalTransition =
  | { event: "VOTE"; support: number; weight: bigint }
  | { event: "QUEUED"; eta: number }
  | { event: "EXECUTED" }
  | { event: "CANCELED"; by: string | null }
  | { event: "EXTENDED"; deadline: number };

const supportColumn = { 0: "against_votes", 1: "for_votes", 2: "abstain_votes" } as const;

/**
 * The one definition of how a proposal's stored state follows from its transitions: the indexer folds
 * each range's transitions forward into the rows, and a reorg's rollback folds the transitions that remain
 * into the row as it was created (`asCreated`), so both give the same row for the same chain.
 */
export function foldProposal(p: ProposalRow, t: ProposalTransition, block: number): void {
  switch (t.event) {
    case "VOTE": {
      const column = supportColumn[t.support as 0 | 1 | 2];
      if (column) p[column] = (BigInt(p[column]) + t.weight).toString();
      p.vote_count += 1;
      break;
    }
    case "QUEUED":
      p.status = "QUEUED";
      p.eta = t.eta;
      break;
    case "EXECUTED":
      p.status = "EXECUTED";
      break;
    case "CANCELED":
      p.status = "CANCELED";
      p.canceled_by = t.by;
      break;
    case "EXTENDED":
      p.vote_end = t.deadline;
      break;
  }
  p.updated_block = block;
}

/** The proposal as its creation left it (before any transition); `voteEnd` is its deadline at creation. */
export function asCreated(p: ProposalRow, voteEnd: number): ProposalRow {
  return {
    ...p,
    status: "PENDING",
    eta: null,
    vote_end: voteEnd,
    canceled_by: null,
    for_votes: "0",
    against_votes: "0",
    abstain_votes: "0",
    vote_count: 0,
    updated_block: p.created_block,
  };
}
