import type { PolicyRows } from "../db/gateway-policy-rows.ts";
import type { GrantRow, PolicyVersionRow } from "../db/governance-queries.ts";
import type { DraftedProposal } from "./generated/resolvers.ts";
import type { CountedConnection } from "./pagination.ts";
import type { Impact } from "./resolvers/proposal-impact.ts";
import type { ActionNode } from "./resolvers/shapes.ts";

export type { DecisionRow } from "../db/gateway-decisions.ts";
/**
 * What the resolvers of a GraphQL object type receive as their parent, where that is not the type
 * itself: rows as the index and the ledger hold them, shaped by the field resolvers. codegen.ts maps
 * the schema's types to these (and to the row types named there), so the resolvers are checked
 * against schema.graphql: a field the parent lacks, or an answer the schema does not allow, fails
 * the type check instead of a query.
 */
export type {
  AccountRow,
  GrantRow,
  PolicyVersionRow,
  ProposalEventRow,
  ProposalRow,
  VoteRow,
} from "../db/governance-queries.ts";
export type { UsageRow } from "../db/ledger/client.ts";
export type { CountedConnection } from "./pagination.ts";
export type { Impact, ReplayShape } from "./resolvers/proposal-impact.ts";
export type { PeriodView, ReceiptNode } from "./resolvers/receipts.ts";
export type { ActionNode } from "./resolvers/shapes.ts";

export interface ModelPolicyParent {
  modelId: string;
  current: PolicyVersionRow;
}

/** The community pool's terms with its eligibility rule, as one parent. */
export type PoolRows = { pool: NonNullable<PolicyRows["pool"]>; poolEligibility: PolicyRows["poolEligibility"] };

export interface AllocationConnectionParent extends CountedConnection<GrantRow> {
  communityPool: () => Promise<PoolRows | null>;
}

/** A draft's impact is worked out only when asked for: the diff reads the index, the simulation forks the chain. */
export type DraftedProposalParent = Omit<DraftedProposal, "actions" | "impact"> & {
  actions: ActionNode[];
  impact: () => Promise<Impact>;
};
