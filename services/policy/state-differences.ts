import type { GovernorSetting } from "../chain/actions.ts";
import type { ChainState } from "../chain/fork-simulation.ts";
import { type GovernanceState, grantsById } from "./after-actions.ts";
import { modelFields } from "./policy-diff.ts";
import { tokenAmount } from "./snapshot.ts";

/** One field where the state read from a chain differs from the state expected. */
export interface StateDifference {
  subject: string;
  field: string;
  expected: string | null;
  actual: string | null;
  message: string;
}

const text = (v: unknown) => (v === undefined || v === null ? null : Array.isArray(v) ? JSON.stringify(v) : String(v));

/**
 * Compares governance state expected (the policies after a proposal's actions) with the state a chain's
 * views return (a fork after the proposal's calls): every field that differs, with both values. Pure.
 * `controller` is who should still own the registry and the allocator (the timelock).
 */
export function stateDifferences(expected: GovernanceState, chain: ChainState, controller: string): StateDifference[] {
  const warnings: StateDifference[] = [];
  const differ = (subject: string, field: string, expected: unknown, actual: unknown) => {
    const e = text(expected);
    const a = text(actual);
    if (e !== a) {
      const message = `${subject}: ${field} is ${a ?? "(none)"} on the chain, where ${e ?? "(none)"} was expected`;
      warnings.push({ subject, field, expected: e, actual: a, message });
    }
  };
  const models = new Set([...expected.policies.models.keys(), ...chain.policies.keys()]);
  for (const modelId of models) {
    const e = expected.policies.models.get(modelId);
    const a = chain.policies.get(modelId);
    const live = a !== undefined && a.version > 0 ? a : undefined;
    // The registry's view does not return a suspension's reason.
    for (const field of modelFields) {
      if (field === "suspendReason") continue;
      differ(`model ${modelId}`, field, e?.[field], live?.[field]);
    }
  }
  const grants = grantsById(expected.policies);
  const liveOnChain = new Map([...chain.grants].filter(([, g]) => !g.revoked));
  for (const id of new Set([...grants.keys(), ...liveOnChain.keys()])) {
    const e = grants.get(id);
    const a = liveOnChain.get(id);
    for (const field of ["grantee", "modelId", "start", "end"] as const)
      differ(`grant ${id}`, field, e?.[field], a?.[field]);
    differ(
      `grant ${id}`,
      "tokensPerEpoch",
      e?.tokensPerEpoch,
      a === undefined ? undefined : tokenAmount(a.tokensPerEpoch),
    );
  }
  differ("allocator", "nextGrantId", expected.nextGrantId, chain.nextGrantId);
  const pool = expected.policies.pool;
  differ(
    "community pool",
    "allowancePerAddress",
    pool.allowancePerAddress,
    tokenAmount(chain.pool.allowancePerAddress),
  );
  differ("community pool", "poolSizePerEpoch", pool.poolSizePerEpoch, tokenAmount(chain.pool.poolSizePerEpoch));
  differ("community pool", "epochLength", pool.epochLength, chain.pool.epochLength);
  for (const [setting, value] of Object.entries(expected.governor)) {
    differ("governor", setting, value, chain.governor[setting as GovernorSetting]);
  }
  for (const [field, value] of Object.entries(expected.guardian)) {
    differ("guardian", field, value, chain.guardian[field as keyof ChainState["guardian"]]);
  }
  differ("registry", "owner", controller, chain.owners.registry);
  differ("allocator", "owner", controller, chain.owners.allocator);
  return warnings;
}
