/**
 * The GraphQL operations the CLI and the demo send. Each is typed from services/api/schema.graphql by
 * the code generator (`npm run codegen`), so the variables and the shapes read back follow the schema.
 */
import { graphql } from "./gql/gql.ts";
import type {
  CliPolicyStatusQuery,
  CliProposalFieldsFragment,
  CliProposalImpactFieldsFragment,
  PolicyVersionFieldsFragment,
} from "./gql/graphql.ts";

export type ProposalView = CliProposalFieldsFragment;
export type PolicyVersionView = PolicyVersionFieldsFragment;
export type PolicyStatusView = CliPolicyStatusQuery["policyStatus"];

graphql(`
  fragment CliProposalFields on Proposal {
    id proposer description descriptionHash state kinds voteStart voteEnd eta
    targets values calldatas
    tally { for against abstain voteCount quorum quorumReached majorityFor }
    created { transactionHash blockNumber blockTime }
  }
`);

export const PROPOSAL = graphql(`
  query CliProposal($id: BigInt!) { proposal(id: $id) { ...CliProposalFields } }
`);

export const PROPOSALS = graphql(`
  query CliProposals($first: Int, $filter: ProposalFilter) {
    proposals(first: $first, filter: $filter) { totalCount edges { node { ...CliProposalFields } } }
  }
`);

export const DRAFT_PROPOSAL = graphql(`
  mutation CliDraftProposal($input: DraftProposalInput!) {
    draftProposal(input: $input) {
      proposalId description descriptionHash targets values calldatas transaction { to data value chainId }
    }
  }
`);

export const CAST_VOTE_BY_SIG = graphql(`
  mutation CliCastVoteBySig($proposalId: BigInt!, $support: VoteSupport!, $voter: Address!, $signature: Bytes!, $reason: String) {
    castVoteBySig(proposalId: $proposalId, support: $support, voter: $voter, signature: $signature, reason: $reason)
  }
`);

export const REVOKE_API_KEY = graphql(`
  mutation CliRevokeApiKey($id: ID!) { revokeApiKey(id: $id) }
`);

export const SYNC_STATUS = graphql(`
  query CliSyncStatus { syncStatus { indexedBlock chainHead lag lastError updatedAt } }
`);

graphql(`
  fragment PolicyVersionFields on PolicyVersion {
    modelId version approved suspended suspendReason maxTokensPerRequest requestsPerMinute
    allowedPurposes blockedTerms guidelineUri guidelineHash
    enactedBy { proposalId transactionHash blockNumber blockTime }
  }
`);

export const POLICY = graphql(`
  query CliPolicy($model: String!) { policy(model: $model) { modelId current { ...PolicyVersionFields } } }
`);

/** With `withDecisions`, the consumer's recent decisions too (they need the consumer's key or the operator token). */
export const POLICY_STATUS = graphql(`
  query CliPolicyStatus($model: String!, $consumer: Address!, $purpose: String, $withDecisions: Boolean!) {
    policyStatus(model: $model, consumer: $consumer, purpose: $purpose) {
      model consumer policy { ...PolicyVersionFields }
      epochStart epochEnd communityPoolLeft requestsThisMinute admitted reason message
      budgets { source grantId granted used reserved left } privateAccess { granted reason }
      recentDecisions(first: 10) @include(if: $withDecisions) { requestId admitted reasonCode tokensUsed }
    }
  }
`);

/** Everything of a ProposalImpact but the consumers it affects (which only the operator token reads). */
export const PROPOSAL_IMPACT_FIELDS = graphql(`
  fragment CliProposalImpactFields on ProposalImpact {
    proposalId indexedBlock
    diff {
      models { modelId change fields { field before after } }
      grants { grantId grantee modelId change fields { field before after } }
      communityPool { field before after }
      governor { field before after }
      guardian { field before after }
      unknownCalls
      problems { index error message }
    }
    simulation {
      blockNumber executes gasUsed
      calls { index target status gasUsed error { name signature args data } }
      after {
        models { modelId version approved suspended maxTokensPerRequest requestsPerMinute allowedPurposes blockedTerms }
        grants { grantId grantee modelId tokensPerEpoch start end revoked }
        communityPool { allowancePerAddress poolSizePerEpoch epochLength }
        nextGrantId registryOwner allocatorOwner
      }
      warnings { subject field expected actual message }
    }
    replay(since: $since, until: $until) {
      since until calls evaluated
      notEvaluable { reason calls explanation }
      before { outcome calls } after { outcome calls }
      newlyRefused newlyAdmitted consumersAffected estimatedCharges
      changes { from to calls consumers }
      budgets { budget tokensBefore tokensAfter change }
    }
    shadow {
      queued since until calls failed changed newlyRefused newlyAdmitted consumersAffected tokensChange
      changes { from to calls consumers }
    }
  }
`);

export const PROPOSAL_IMPACT = graphql(`
  query CliProposalImpact($proposalId: BigInt!, $since: Timestamp, $until: Timestamp) {
    proposalImpact(proposalId: $proposalId) { ...CliProposalImpactFields }
  }
`);

export type ProposalImpactView = CliProposalImpactFieldsFragment;
