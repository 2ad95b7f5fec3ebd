import type { Action } from "../../chain/actions.ts";

/** Vote support as GovernorCountingSimple numbers it, by name. */
export const supportNames = ["AGAINST", "FOR", "ABSTAIN"] as const;
export type SupportName = (typeof supportNames)[number];

export function supportNumber(name: SupportName): number {
  return supportNames.indexOf(name);
}

export function provenance(row: {
  proposal_id: string | null;
  tx_hash: string;
  block_number: number;
  block_time: number;
}) {
  return {
    proposalId: row.proposal_id,
    transactionHash: row.tx_hash,
    blockNumber: row.block_number,
    blockTime: row.block_time,
  };
}

const actionTypes: Record<Action["kind"], string> = {
  SET_MODEL_POLICY: "SetModelPolicyAction",
  SUSPEND_MODEL: "SuspendModelAction",
  GRANT_ALLOCATION: "GrantAllocationAction",
  REVOKE_ALLOCATION: "RevokeAllocationAction",
  SET_COMMUNITY_POOL: "SetCommunityPoolAction",
  UPDATE_GOVERNOR_SETTING: "UpdateGovernorSettingAction",
  SET_POOL_ELIGIBILITY: "SetPoolEligibilityAction",
  SET_GUARDIAN: "SetGuardianAction",
  SET_GUARDIAN_SUSPENSION_PERIOD: "SetGuardianSuspensionPeriodAction",
  UNKNOWN: "UnknownAction",
};

/** A decoded action's fields (as decoded, or as the index stored them) next to its raw call. */
export type ActionNode = Record<string, unknown> & {
  kind: Action["kind"];
  target: string;
  value: string | bigint;
  calldata: string;
};

/**
 * A decoded action next to its raw call, as the ProposalAction interface shows it. The governor
 * setting's value is `newValue` there, since `value` is the call's ETH value.
 */
export function actionNode(
  action: Record<string, unknown>,
  call: { target: string; value: string | bigint; calldata: string },
): ActionNode {
  const node: ActionNode = {
    ...action,
    kind: action.kind as Action["kind"],
    target: call.target,
    value: call.value,
    calldata: call.calldata,
  };
  if (action.kind === "UPDATE_GOVERNOR_SETTING") node.newValue = action.value;
  return node;
}

/** mercurius reads an interface's `resolveType` (the generated types name Apollo's `__resolveType`). */
export const ProposalAction = {
  resolveType: (node: ActionNode) => actionTypes[node.kind] ?? "UnknownAction",
};
