import { type GovernorSetting, governorSettingFunctions } from "../chain/actions.ts";
import type { GovernanceRows } from "../db/impact-state.ts";
import type { GovernanceState } from "./after-actions.ts";
import { buildSnapshot } from "./snapshot.ts";
import type { SnapshotSettings } from "./types.ts";

/**
 * What a proposal's actions apply to, from the index's rows: read once here so that proposalImpact and the
 * gateway's shadow mode start from the same state.
 */
export function governanceStateOf(rows: GovernanceRows, settings: SnapshotSettings): GovernanceState {
  const governor: GovernanceState["governor"] = {};
  // Only the settings a proposal's actions change; the index also keeps others (the super quorum).
  for (const row of rows.governor) {
    if (Object.hasOwn(governorSettingFunctions, row.setting))
      governor[row.setting as GovernorSetting] = BigInt(row.value);
  }
  const guardian: GovernanceState["guardian"] = {};
  for (const row of rows.guardian) {
    if (row.kind === "GUARDIAN") guardian.guardian = row.value;
    else guardian.suspensionPeriod = Number(row.value);
  }
  return {
    policies: buildSnapshot(rows.policies, settings),
    governor,
    guardian,
    nextGrantId: rows.maxGrantId === null ? 1n : BigInt(rows.maxGrantId) + 1n,
  };
}
