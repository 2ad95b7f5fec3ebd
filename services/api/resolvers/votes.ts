import {
  type AccountRow,
  countDelegates,
  countVotes,
  delegatePosition,
  listDelegates,
  listVotes,
  type VoteFilter,
  type VoteRow,
  votePosition,
} from "../../db/governance-queries.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";
import type { QueryVotesArgs } from "../generated/resolvers.ts";
import { pageRequest, toConnection } from "../pagination.ts";
import { supportNames, supportNumber } from "./shapes.ts";

export const voteQueries = {
  async votes(_: unknown, args: QueryVotesArgs, ctx: ApiContext) {
    const page = pageRequest(args, ["int", "int32"]);
    const f = args.filter ?? {};
    const filter: VoteFilter = {
      ...(f.proposalId != null ? { proposalId: f.proposalId.toString() } : {}),
      ...(f.voter ? { voter: f.voter } : {}),
      ...(f.support ? { support: supportNumber(f.support) } : {}),
    };
    const db = ctx.deps.database.db;
    const rows = await listVotes(db, filter, page);
    return { ...toConnection(rows, votePosition, (r) => r), totalCount: () => countVotes(db, filter) };
  },

  async delegates(_: unknown, args: { first?: number; after?: string | null }, ctx: ApiContext) {
    const page = pageRequest(args, ["uint256", "text"]);
    const db = ctx.deps.database.db;
    const rows = await listDelegates(db, page);
    return { ...toConnection(rows, delegatePosition, (r) => r), totalCount: () => countDelegates(db) };
  },
};

export const Vote = {
  proposalId: (v: VoteRow) => v.proposal_id,
  async proposal(v: VoteRow, _: unknown, ctx: ApiContext) {
    const proposal = await ctx.loaders.proposal(v.proposal_id);
    // The index writes a proposal before its votes, in the same range: a vote without one is a broken index.
    if (!proposal) throw new AppError("INTERNAL", `vote on proposal ${v.proposal_id}, which the index lacks`);
    return proposal;
  },
  support: (v: VoteRow) => supportNames[v.support],
  blockNumber: (v: VoteRow) => v.block_number,
  blockTime: (v: VoteRow) => v.block_time,
  transactionHash: (v: VoteRow) => v.tx_hash,
};

export const Delegate = {
  votingPower: (a: AccountRow) => a.voting_power,
  delegatesTo: (a: AccountRow) => a.delegate,
};
