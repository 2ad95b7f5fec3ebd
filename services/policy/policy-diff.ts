import type { GovernorSetting } from "../chain/actions.ts";
import { type GovernanceState, type GuardianSettings, grantsById } from "./after-actions.ts";
import type { GrantPolicy, ModelPolicy, PoolPolicy } from "./types.ts";

/**
 * What a proposal changes, field by field, between two governance states (before and after its actions).
 * Pure, no Node-only imports: the web app can show the same diff. Values are strings (lists as JSON) so
 * that every field reads the same way; null means "none" (no such model or grant on that side).
 */

export interface FieldChange {
  field: string;
  before: string | null;
  after: string | null;
}

export interface ModelChange {
  modelId: string;
  /** NEW: governance never set a policy for it; CHANGED otherwise. */
  change: "NEW" | "CHANGED";
  fields: FieldChange[];
}

export interface GrantChange {
  grantId: string;
  grantee: string;
  modelId: string;
  change: "NEW" | "REVOKED";
  fields: FieldChange[];
}

export interface PolicyDiff {
  models: ModelChange[];
  grants: GrantChange[];
  communityPool: FieldChange[];
  governor: FieldChange[];
  /** The governor's proposal guardian and the registry's guardian suspension period. */
  guardian: FieldChange[];
}

/** The fields of a model policy a proposal can change, in the order they are shown. */
export const modelFields = [
  "version",
  "approved",
  "suspended",
  "suspendReason",
  "maxTokensPerRequest",
  "requestsPerMinute",
  "allowedPurposes",
  "blockedTerms",
  "guidelineUri",
  "guidelineHash",
] as const satisfies readonly (keyof ModelPolicy)[];

const grantFields = [
  "grantee",
  "modelId",
  "tokensPerEpoch",
  "start",
  "end",
] as const satisfies readonly (keyof GrantPolicy)[];
const poolFields = [
  "allowancePerAddress",
  "poolSizePerEpoch",
  "epochLength",
  "minVotes",
] as const satisfies readonly (keyof PoolPolicy)[];
const governorSettings: readonly GovernorSetting[] = [
  "VOTING_DELAY",
  "VOTING_PERIOD",
  "PROPOSAL_THRESHOLD",
  "QUORUM_NUMERATOR",
  "LATE_QUORUM_EXTENSION",
  "SUPER_QUORUM_NUMERATOR",
];
const guardianFields = ["guardian", "suspensionPeriod"] as const satisfies readonly (keyof GuardianSettings)[];

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return Array.isArray(value) ? JSON.stringify(value) : String(value);
}

/** The fields of `names` whose text differs between `before` and `after` (either may be absent). */
function changedFields<T extends object>(
  names: readonly (keyof T & string)[],
  before: T | undefined,
  after: T | undefined,
) {
  const changes: FieldChange[] = [];
  for (const field of names) {
    const b = before === undefined ? null : text(before[field]);
    const a = after === undefined ? null : text(after[field]);
    if (b !== a) changes.push({ field, before: b, after: a });
  }
  return changes;
}

export function diffStates(before: GovernanceState, after: GovernanceState): PolicyDiff {
  const models: ModelChange[] = [];
  for (const [modelId, policy] of after.policies.models) {
    const previous = before.policies.models.get(modelId);
    if (previous === policy) continue;
    const fields = changedFields(modelFields, previous, policy);
    if (fields.length > 0) models.push({ modelId, change: previous === undefined ? "NEW" : "CHANGED", fields });
  }

  const grantsBefore = grantsById(before.policies);
  const grantsAfter = grantsById(after.policies);
  const grants: GrantChange[] = [];
  const grantChange = (g: GrantPolicy, change: GrantChange["change"]) =>
    grants.push({
      grantId: g.grantId,
      grantee: g.grantee,
      modelId: g.modelId,
      change,
      fields: change === "NEW" ? changedFields(grantFields, undefined, g) : changedFields(grantFields, g, undefined),
    });
  for (const g of grantsAfter.values()) if (!grantsBefore.has(g.grantId)) grantChange(g, "NEW");
  for (const g of grantsBefore.values()) if (!grantsAfter.has(g.grantId)) grantChange(g, "REVOKED");

  const governor: FieldChange[] = [];
  for (const setting of governorSettings) {
    const b = text(before.governor[setting]);
    const a = text(after.governor[setting]);
    if (b !== a) governor.push({ field: setting, before: b, after: a });
  }

  return {
    models,
    grants,
    communityPool: changedFields(poolFields, before.policies.pool, after.policies.pool),
    governor,
    guardian: changedFields(guardianFields, before.guardian, after.guardian),
  };
}
