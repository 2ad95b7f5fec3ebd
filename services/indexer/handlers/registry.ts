import type { PolicyRules } from "../../chain/actions.ts";
import type { GovernanceEvent } from "../../chain/events.ts";
import { enactedBy, type RangeState, type Row, rulesAt, timeOf } from "../range-state.ts";
import type { Handlers } from "./handler.ts";

type Suspension = Extract<GovernanceEvent, { type: "ModelSuspended" }>;

/** The policy registry: model policies, their suspensions (by a vote or the guardian), the brake's period. */
export const registry: Handlers<"PolicySet" | "ModelSuspended" | "GuardianSuspensionPeriodSet"> = {
  PolicySet(s, e) {
    s.rows.policies.push(policyRow(s, e, e.rules, null));
  },
  async ModelSuspended(s, e) {
    s.rows.policies.push(policyRow(s, e, await rulesAt(s, e.modelId, e.previousVersion), e));
  },
  GuardianSuspensionPeriodSet(s, e) {
    s.rows.guardian.push({
      block_number: e.blockNumber,
      log_index: e.logIndex,
      kind: "SUSPENSION_PERIOD",
      value: String(e.period),
      proposal_id: enactedBy(s, e),
      block_time: timeOf(s, e.blockNumber),
      tx_hash: e.txHash,
    });
  },
};

/** A policy version: the rules set, or (with `suspension`) the previous rules, suspended by a vote or the guardian. */
function policyRow(
  s: RangeState,
  e: GovernanceEvent & { modelId: string; version: number },
  rules: PolicyRules,
  suspension: Suspension | null,
): Row<"policy_versions"> {
  return {
    model_id: e.modelId,
    version: e.version,
    approved: rules.approved,
    suspended: suspension !== null,
    suspend_reason: suspension?.reason ?? null,
    suspended_until: suspension?.guardian?.until ?? null,
    suspended_by: suspension?.guardian?.address ?? null,
    max_tokens_per_request: rules.maxTokensPerRequest,
    requests_per_minute: rules.requestsPerMinute,
    allowed_purposes: rules.allowedPurposes,
    blocked_terms: rules.blockedTerms,
    guideline_uri: rules.guidelineUri,
    guideline_hash: rules.guidelineHash,
    proposal_id: enactedBy(s, e),
    block_number: e.blockNumber,
    block_time: timeOf(s, e.blockNumber),
    tx_hash: e.txHash,
    log_index: e.logIndex,
  };
}
