import mercurius from "mercurius";
import { votesByKeys } from "../../db/governance-queries.ts";
import type { GovernanceNotification } from "../../indexer/notifications.ts";
import type { ApiContext } from "../context.ts";

/** Topics on mercurius' pubsub, fed by the indexer's notifications (see plugin.ts). */
export const PROPOSAL_TOPIC = "PROPOSAL_UPDATED";
export const VOTE_TOPIC = "VOTE_CAST";

const { withFilter } = mercurius;

type ProposalEvent = Extract<GovernanceNotification, { type: "proposal" }>;
type VoteEvent = Extract<GovernanceNotification, { type: "vote" }>;

interface SubscriptionContext extends ApiContext {
  pubsub: { subscribe(topic: string): Promise<AsyncIterable<unknown>> };
}

export const Subscription = {
  proposalUpdated: {
    subscribe: withFilter<ProposalEvent, unknown, SubscriptionContext, { id?: bigint | null }>(
      (_root, _args, ctx) => ctx.pubsub.subscribe(PROPOSAL_TOPIC),
      (event, args) => args.id == null || event.proposalId === args.id.toString(),
    ),
    resolve: (event: ProposalEvent, _: unknown, ctx: ApiContext) => ctx.loaders.proposal(event.proposalId),
  },
  voteCast: {
    subscribe: withFilter<
      VoteEvent,
      unknown,
      SubscriptionContext,
      { proposalId?: bigint | null; voter?: string | null }
    >(
      (_root, _args, ctx) => ctx.pubsub.subscribe(VOTE_TOPIC),
      (event, args) =>
        (args.proposalId == null || event.proposalId === args.proposalId.toString()) &&
        (args.voter == null || event.voter === args.voter),
    ),
    async resolve(event: VoteEvent, _: unknown, ctx: ApiContext) {
      const [vote] = await votesByKeys(ctx.deps.database.db, [{ proposalId: event.proposalId, voter: event.voter }]);
      return vote ?? null;
    },
  },
};
