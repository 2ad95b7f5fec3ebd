import { type DocumentNode, GraphQLError, type GraphQLResolveInfo, Kind } from "graphql";
import mercurius from "mercurius";
import { votesByKeys } from "../../db/governance-queries.ts";
import type { GovernanceNotification } from "../../indexer/notifications.ts";
import type { ApiContext, ResolverContext } from "../context.ts";
import { checkCost } from "../limits.ts";

/** Topics on mercurius' pubsub, fed by the indexer's notifications (see plugin.ts). */
export const PROPOSAL_TOPIC = "PROPOSAL_UPDATED";
export const VOTE_TOPIC = "VOTE_CAST";

const { withFilter } = mercurius;

type ProposalEvent = Extract<GovernanceNotification, { type: "proposal" }>;
type VoteEvent = Extract<GovernanceNotification, { type: "vote" }>;

type Subscribe<A, R = unknown> = (root: unknown, args: A, ctx: ResolverContext, info: GraphQLResolveInfo) => R;

/**
 * A subscription starts only within the limits queries have: its cost with its variables (mercurius'
 * hooks do not see them; graphql-js has coerced them by now), and the connection's count of running
 * subscriptions, which goes down again when the subscription ends.
 */
function limited<A>(subscribe: Subscribe<A>): Subscribe<A, Promise<AsyncIterableIterator<unknown>>> {
  return async (root, args, ctx, info) => {
    const operation: DocumentNode = {
      kind: Kind.DOCUMENT,
      definitions: [info.operation, ...Object.values(info.fragments)],
    };
    checkCost(info.schema, operation, info.variableValues);
    const maximum = ctx.deps.config.API_SUBSCRIPTIONS_PER_CONNECTION;
    if (ctx.subscriptions.active >= maximum) {
      throw new GraphQLError(`at most ${maximum} subscriptions per connection: complete one first`, {
        extensions: { code: "RATE_LIMITED", maximum },
      });
    }
    const iterator = (await subscribe(root, args, ctx, info)) as AsyncIterator<unknown>;
    ctx.subscriptions.active++;
    let ended = false;
    const end = () => {
      if (!ended) ctx.subscriptions.active--;
      ended = true;
    };
    const counted: AsyncIterableIterator<unknown> = {
      [Symbol.asyncIterator]() {
        return counted;
      },
      async next() {
        const result = await iterator.next();
        if (result.done) end();
        return result;
      },
      async return(value?: unknown) {
        end();
        return iterator.return ? iterator.return(value) : { done: true, value };
      },
      async throw(error?: unknown) {
        end();
        if (iterator.throw) return iterator.throw(error);
        throw error;
      },
    };
    return counted;
  };
}

export const Subscription = {
  proposalUpdated: {
    subscribe: limited(
      withFilter<ProposalEvent, unknown, ResolverContext, { id?: bigint | null }>(
        (_root, _args, ctx) => ctx.pubsub.subscribe(PROPOSAL_TOPIC),
        (event, args) => args.id == null || event.proposalId === args.id.toString(),
      ),
    ),
    resolve: (event: ProposalEvent, _: unknown, ctx: ApiContext) => ctx.loaders.proposal(event.proposalId),
  },
  voteCast: {
    subscribe: limited(
      withFilter<VoteEvent, unknown, ResolverContext, { proposalId?: bigint | null; voter?: string | null }>(
        (_root, _args, ctx) => ctx.pubsub.subscribe(VOTE_TOPIC),
        (event, args) =>
          (args.proposalId == null || event.proposalId === args.proposalId.toString()) &&
          (args.voter == null || event.voter === args.voter),
      ),
    ),
    async resolve(event: VoteEvent, _: unknown, ctx: ApiContext) {
      const [vote] = await votesByKeys(ctx.deps.database.db, [{ proposalId: event.proposalId, voter: event.voter }]);
      return vote ?? null;
    },
  },
};
