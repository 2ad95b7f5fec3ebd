import {
  countProposals,
  listProposals,
  listVotes,
  type ProposalEventRow,
  type ProposalFilter,
  type ProposalRow,
  proposalPosition,
  proposalStateOf,
  votePosition,
} from "../../db/governance-queries.ts";
import type { ApiContext } from "../context.ts";
import type { ProposalVotesArgs, QueryProposalsArgs } from "../generated/resolvers.ts";
import { pageRequest, toConnection } from "../pagination.ts";
import { actionNode, supportNumber } from "./shapes.ts";

export const proposalQueries = {
  async proposals(_: unknown, args: QueryProposalsArgs, ctx: ApiContext) {
    const page = pageRequest(args, ["int", "int32"]);
    const f = args.filter ?? {};
    const filter: ProposalFilter = {
      ...(f.state ? { states: f.state } : {}),
      ...(f.kind ? { kinds: f.kind } : {}),
      ...(f.proposer ? { proposer: f.proposer } : {}),
      ...(f.createdFrom != null ? { createdFrom: f.createdFrom } : {}),
      ...(f.createdUntil != null ? { createdUntil: f.createdUntil } : {}),
      // Only a state filter needs the clock.
      now: f.state ? await ctx.clock() : 0,
    };
    // Nodes usually show their state: read the clock alongside the page rather than after it.
    void ctx.clock().catch(() => undefined);
    const db = ctx.deps.database.db;
    const rows = await listProposals(db, filter, page);
    return {
      ...toConnection(rows, proposalPosition, (r) => r),
      totalCount: () => countProposals(db, filter),
    };
  },

  async proposal(_: unknown, args: { id: bigint }, ctx: ApiContext) {
    return ctx.loaders.proposal(args.id.toString());
  },
};

export const Proposal = {
  description: (p: ProposalRow) => p.description,
  descriptionHash: (p: ProposalRow) => p.description_hash,
  async state(p: ProposalRow, _: unknown, ctx: ApiContext) {
    return proposalStateOf(p, await ctx.clock());
  },
  actions: (p: ProposalRow) =>
    p.actions.map((a, i) =>
      actionNode(a, {
        target: p.targets[i] as string,
        value: p.values[i] as string,
        calldata: p.calldatas[i] as string,
      }),
    ),
  voteStart: (p: ProposalRow) => p.vote_start,
  voteEnd: (p: ProposalRow) => p.vote_end,
  canceledBy: (p: ProposalRow) => p.canceled_by,
  tally(p: ProposalRow) {
    const forVotes = BigInt(p.for_votes);
    const against = BigInt(p.against_votes);
    const abstain = BigInt(p.abstain_votes);
    const quorum = BigInt(p.quorum);
    return {
      for: forVotes,
      against,
      abstain,
      voteCount: p.vote_count,
      quorum,
      quorumReached: quorum <= forVotes + abstain,
      majorityFor: forVotes > against,
    };
  },
  created: (p: ProposalRow) => ({
    proposalId: p.id,
    transactionHash: p.created_tx,
    blockNumber: p.created_block,
    blockTime: p.created_time,
  }),
  history: (p: ProposalRow, _: unknown, ctx: ApiContext) => ctx.loaders.history(p.id),
  async votes(p: ProposalRow, args: ProposalVotesArgs, ctx: ApiContext) {
    const page = pageRequest(args, ["int", "int32"]);
    const support = args.support ? supportNumber(args.support) : undefined;
    const db = ctx.deps.database.db;
    const totalCount = () =>
      support === undefined ? p.vote_count : ctx.loaders.voteCount({ proposalId: p.id, support });
    if (page.after) {
      // A later page of one proposal's votes: a plain keyset query (only the first page is batched).
      const rows = await listVotes(db, { proposalId: p.id, ...(support !== undefined ? { support } : {}) }, page);
      return { ...toConnection(rows, votePosition, (r) => r), totalCount };
    }
    const rows = await ctx.loaders.firstVotes({ proposalId: p.id, first: page.first, support });
    const firstPage = { rows: rows.slice(0, page.first), hasNextPage: rows.length > page.first };
    return { ...toConnection(firstPage, votePosition, (r) => r), totalCount };
  },
};

export const ProposalEvent = {
  blockNumber: (e: ProposalEventRow) => e.block_number,
  blockTime: (e: ProposalEventRow) => e.block_time,
  transactionHash: (e: ProposalEventRow) => e.tx_hash,
  eta: (e: ProposalEventRow) => (e.event === "QUEUED" ? (e.data?.eta ?? null) : null),
  deadline: (e: ProposalEventRow) => (e.event === "EXTENDED" ? (e.data?.deadline ?? null) : null),
  by: (e: ProposalEventRow) => (e.event === "CANCELED" ? (e.data?.by ?? null) : null),
};
