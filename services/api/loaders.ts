import type { Kysely } from "kysely";
import {
  countVotesOf,
  firstVotesOf,
  type PolicyVersionRow,
  type ProposalEventRow,
  type ProposalRow,
  policyVersions,
  proposalEvents,
  proposalsByIds,
  type VoteRow,
} from "../db/governance-queries.ts";
import type { Database } from "../db/schema.ts";
import { createBatchLoader, groupBy } from "./batch-loader.ts";

export interface VotesOfKey {
  proposalId: string;
  first: number;
  support: number | undefined;
}

/**
 * The per-request loaders: whatever the page size, a page of proposals with their histories, votes and
 * vote counts costs one query per kind of field.
 */
export function createLoaders(db: Kysely<Database>) {
  const votesKey = (k: VotesOfKey) => `${k.proposalId}:${k.first}:${k.support ?? ""}`;
  return {
    proposal: createBatchLoader<string, ProposalRow | null>(
      async (ids) => new Map((await proposalsByIds(db, ids)).map((r) => [r.id, r])),
      (id) => id,
      null,
    ),
    history: createBatchLoader<string, ProposalEventRow[]>(
      async (ids) => groupBy(await proposalEvents(db, ids), (r) => r.proposal_id),
      (id) => id,
      [],
    ),
    /** The first `first + 1` votes of each proposal (newest first); grouped by page shape. */
    firstVotes: createBatchLoader<VotesOfKey, VoteRow[]>(
      async (keys) => {
        const found = new Map<string, VoteRow[]>();
        const shapes = groupBy(keys, (k) => `${k.first}:${k.support ?? ""}`);
        await Promise.all(
          [...shapes.values()].map(async (group) => {
            const { first, support } = group[0] as VotesOfKey;
            const rows = await firstVotesOf(
              db,
              group.map((k) => k.proposalId),
              first,
              support,
            );
            for (const [id, votes] of groupBy(rows, (r) => r.proposal_id)) {
              found.set(votesKey({ proposalId: id, first, support }), votes);
            }
          }),
        );
        return found;
      },
      votesKey,
      [],
    ),
    /** Votes of one support value per proposal (the unfiltered count is on the proposal row). */
    voteCount: createBatchLoader<{ proposalId: string; support: number }, number>(
      async (keys) => {
        const found = new Map<string, number>();
        for (const [support, group] of groupBy(keys, (k) => String(k.support))) {
          const counts = await countVotesOf(
            db,
            group.map((k) => k.proposalId),
            Number(support),
          );
          for (const [id, n] of counts) found.set(`${id}:${support}`, n);
        }
        return found;
      },
      (k) => `${k.proposalId}:${k.support}`,
      0,
    ),
    policyHistory: createBatchLoader<string, PolicyVersionRow[]>(
      async (models) => groupBy(await policyVersions(db, models), (r) => r.model_id),
      (m) => m,
      [],
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
