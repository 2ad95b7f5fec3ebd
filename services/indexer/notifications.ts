/**
 * Channels the indexer notifies after a committed range (Postgres NOTIFY inside the range's
 * transaction, so listeners hear of nothing that was rolled back).
 */

/** Payload `{"block": n}`: policies, grants or the community pool changed up to block n. */
export const POLICY_CHANNEL = "commons_policy";

/** Payload `{"type":"proposal","proposalId"}` or `{"type":"vote","proposalId","voter"}`, one per change. */
export const GOVERNANCE_CHANNEL = "commons_governance";

export type GovernanceNotification =
  | { type: "proposal"; proposalId: string }
  | { type: "vote"; proposalId: string; voter: string };

export interface PolicyNotification {
  block: number;
}
