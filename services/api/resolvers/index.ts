import type { Wallet } from "ethers";
import type { ForkSimulator } from "../../chain/fork-simulation.ts";
import type { Subscriptions } from "../../notifications/subscriptions.ts";
import type { Deps } from "../../shared/deps.ts";
import type { Resolvers } from "../generated/resolvers.ts";
import { countedConnection } from "../pagination.ts";
import { createQuotas } from "../quotas.ts";
import { createRelay } from "../relay.ts";
import { AddressScalar, BigIntScalar, BytesScalar, TimestampScalar } from "../scalars.ts";
import { createCastVoteBySig } from "./cast-vote-by-sig.ts";
import { createDelegateBySig } from "./delegate-by-sig.ts";
import { draftProposalMutations } from "./draft-proposal.ts";
import { Decision, ledgerQueries, Usage } from "./ledger.ts";
import { createNotificationResolvers } from "./notifications.ts";
import { CommunityPool, Grant, ModelPolicy, PolicyVersion, policyQueries } from "./policies.ts";
import { PolicyStatus, policyStatusQueries } from "./policy-status.ts";
import { createImpactResolvers } from "./proposal-impact.ts";
import { Proposal, ProposalEvent, proposalQueries } from "./proposals.ts";
import { createReceiptResolvers } from "./receipts.ts";
import { createRelayTransaction } from "./relay-transaction.ts";
import { ProposalAction } from "./shapes.ts";
import { createSignIn } from "./sign-in.ts";
import { Subscription } from "./subscriptions.ts";
import { syncStatusQueries } from "./sync-status.ts";
import { Delegate, Vote, voteQueries } from "./votes.ts";

/** Every resolver of schema.graphql, by type. */
export function createResolvers(
  deps: Deps,
  relayer: Wallet | undefined,
  simulator?: ForkSimulator,
  subscriptions?: Subscriptions,
): Omit<Resolvers, "ProposalAction"> & { ProposalAction: typeof ProposalAction } {
  const quotas = createQuotas(deps);
  const relay = createRelay(deps, relayer, quotas);
  const impact = createImpactResolvers(simulator);
  const receipts = createReceiptResolvers(deps);
  const notifications = createNotificationResolvers(subscriptions);
  return {
    BigInt: BigIntScalar,
    Address: AddressScalar,
    Bytes: BytesScalar,
    Timestamp: TimestampScalar,
    Query: {
      ...proposalQueries,
      ...voteQueries,
      ...policyQueries,
      ...policyStatusQueries,
      ...ledgerQueries,
      ...syncStatusQueries,
      ...impact.queries,
      ...receipts.queries,
      ...notifications.queries,
    },
    Mutation: {
      ...draftProposalMutations,
      ...createRelayTransaction(deps, quotas),
      ...createCastVoteBySig(deps, relay),
      ...createDelegateBySig(deps, relay),
      ...createSignIn(quotas),
      ...notifications.mutations,
    },
    Subscription,
    Receipt: receipts.Receipt,
    UsagePeriod: receipts.UsagePeriod,
    // Lazy fields (a count, the pool) run only when selected.
    ProposalConnection: countedConnection,
    VoteConnection: countedConnection,
    DelegateConnection: countedConnection,
    AllocationConnection: {
      ...countedConnection,
      communityPool: (c) => c.communityPool(),
    },
    Proposal,
    ProposalEvent,
    ProposalAction,
    Vote,
    Delegate,
    ModelPolicy,
    PolicyVersion,
    Grant,
    CommunityPool,
    PolicyStatus,
    Usage,
    Decision,
    ProposalImpact: impact.ProposalImpact,
    ImpactReplay: impact.ImpactReplay,
  };
}
