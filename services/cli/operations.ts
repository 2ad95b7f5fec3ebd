/**
 * The GraphQL operations the CLI and the demo send, with the shapes they read back. Field names follow
 * services/api/schema.graphql.
 */

const PROPOSAL_FIELDS = `
  id proposer description descriptionHash state kinds voteStart voteEnd eta
  targets values calldatas
  tally { for against abstain voteCount quorum quorumReached majorityFor }
  created { transactionHash blockNumber blockTime }`;

export interface ProposalView {
  id: string;
  proposer: string;
  description: string;
  descriptionHash: string;
  state: string;
  kinds: string[];
  voteStart: number;
  voteEnd: number;
  eta: number | null;
  targets: string[];
  values: string[];
  calldatas: string[];
  tally: {
    for: string;
    against: string;
    abstain: string;
    voteCount: number;
    quorum: string;
    quorumReached: boolean;
    majorityFor: boolean;
  };
  created: { transactionHash: string; blockNumber: number; blockTime: number };
}

export const PROPOSAL = `query ($id: BigInt!) { proposal(id: $id) { ${PROPOSAL_FIELDS} } }`;

export const PROPOSALS = `query ($first: Int, $filter: ProposalFilter) {
  proposals(first: $first, filter: $filter) { totalCount edges { node { ${PROPOSAL_FIELDS} } } }
}`;

export interface DraftedProposal {
  proposalId: string;
  description: string;
  descriptionHash: string;
  transaction: { to: string; data: string; value: string; chainId: number };
}

export const DRAFT_PROPOSAL = `mutation ($input: DraftProposalInput!) {
  draftProposal(input: $input) {
    proposalId description descriptionHash transaction { to data value chainId }
  }
}`;

export const CAST_VOTE_BY_SIG = `mutation ($proposalId: BigInt!, $support: VoteSupport!, $voter: Address!, $signature: Bytes!, $reason: String) {
  castVoteBySig(proposalId: $proposalId, support: $support, voter: $voter, signature: $signature, reason: $reason)
}`;

export const REVOKE_API_KEY = "mutation ($id: ID!) { revokeApiKey(id: $id) }";

export interface SyncStatusView {
  indexedBlock: number;
  chainHead: number;
  lag: number;
  lastError: string | null;
  updatedAt: string | null;
}

export const SYNC_STATUS = "{ syncStatus { indexedBlock chainHead lag lastError updatedAt } }";

const POLICY_VERSION_FIELDS = `
  modelId version approved suspended suspendReason maxTokensPerRequest requestsPerMinute
  allowedPurposes blockedTerms guidelineUri guidelineHash
  enactedBy { proposalId transactionHash blockNumber blockTime }`;

export interface PolicyVersionView {
  modelId: string;
  version: number;
  approved: boolean;
  suspended: boolean;
  suspendReason: string | null;
  maxTokensPerRequest: number;
  requestsPerMinute: number;
  allowedPurposes: string[];
  blockedTerms: string[];
  guidelineUri: string;
  guidelineHash: string;
  enactedBy: { proposalId: string | null; transactionHash: string; blockNumber: number; blockTime: number };
}

export const POLICY = `query ($model: String!) { policy(model: $model) { modelId current { ${POLICY_VERSION_FIELDS} } } }`;

export interface PolicyStatusView {
  model: string;
  consumer: string;
  policy: PolicyVersionView | null;
  epochStart: number;
  epochEnd: number;
  budgets: { source: string; grantId: string | null; granted: string; used: string; reserved: string; left: string }[];
  communityPoolLeft: string;
  requestsThisMinute: number;
  admitted: boolean;
  reason: string | null;
  message: string | null;
  recentDecisions?: { requestId: string; admitted: boolean; reasonCode: string | null; tokensUsed: number }[];
}

/** With `withDecisions`, the consumer's recent decisions too (they need the consumer's key or the operator token). */
export function policyStatusQuery(withDecisions: boolean): string {
  return `query ($model: String!, $consumer: Address!, $purpose: String) {
  policyStatus(model: $model, consumer: $consumer, purpose: $purpose) {
    model consumer policy { ${POLICY_VERSION_FIELDS} }
    epochStart epochEnd communityPoolLeft requestsThisMinute admitted reason message
    budgets { source grantId granted used reserved left }
    ${withDecisions ? "recentDecisions(first: 10) { requestId admitted reasonCode tokensUsed }" : ""}
  }
}`;
}

/** Everything of a ProposalImpact but the consumers it affects (which only the operator token reads). */
export const PROPOSAL_IMPACT_FIELDS = `
  proposalId indexedBlock
  diff {
    models { modelId change fields { field before after } }
    grants { grantId grantee modelId change fields { field before after } }
    communityPool { field before after }
    governor { field before after }
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
  }`;

export const PROPOSAL_IMPACT = `query ($proposalId: BigInt!, $since: Timestamp, $until: Timestamp) {
  proposalImpact(proposalId: $proposalId) { ${PROPOSAL_IMPACT_FIELDS} }
}`;

interface FieldChangeView {
  field: string;
  before: string | null;
  after: string | null;
}

export interface ProposalImpactView {
  proposalId: string;
  indexedBlock: number;
  diff: {
    models: { modelId: string; change: string; fields: FieldChangeView[] }[];
    grants: { grantId: string; grantee: string; modelId: string; change: string; fields: FieldChangeView[] }[];
    communityPool: FieldChangeView[];
    governor: FieldChangeView[];
    unknownCalls: number[];
    problems: { index: number; error: string; message: string }[];
  };
  simulation: {
    blockNumber: number;
    executes: boolean;
    gasUsed: string;
    calls: {
      index: number;
      target: string;
      status: "SUCCEEDED" | "REVERTED" | "NOT_RUN";
      gasUsed: string | null;
      error: { name: string; signature: string; args: string[]; data: string } | null;
    }[];
    after: {
      models: {
        modelId: string;
        version: number;
        approved: boolean;
        suspended: boolean;
        maxTokensPerRequest: number;
        requestsPerMinute: number;
        allowedPurposes: string[];
        blockedTerms: string[];
      }[];
      grants: {
        grantId: string;
        grantee: string;
        modelId: string;
        tokensPerEpoch: string;
        start: number;
        end: number;
        revoked: boolean;
      }[];
      communityPool: { allowancePerAddress: string; poolSizePerEpoch: string; epochLength: number };
      nextGrantId: string;
      registryOwner: string;
      allocatorOwner: string;
    };
    warnings: { subject: string; field: string; expected: string | null; actual: string | null; message: string }[];
  };
  replay: {
    since: number;
    until: number;
    calls: number;
    evaluated: number;
    notEvaluable: { reason: string; calls: number; explanation: string }[];
    before: { outcome: string; calls: number }[];
    after: { outcome: string; calls: number }[];
    newlyRefused: number;
    newlyAdmitted: number;
    consumersAffected: number;
    estimatedCharges: number;
    changes: { from: string; to: string; calls: number; consumers: number }[];
    budgets: { budget: string; tokensBefore: number; tokensAfter: number; change: number }[];
  };
}
