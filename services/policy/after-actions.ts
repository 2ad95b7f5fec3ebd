import type { Action, GovernorSetting } from "../chain/actions.ts";
import { grantPolicyOf, modelPolicyOf, spendingOrder, tokenAmount } from "./snapshot.ts";
import type { GrantPolicy, PolicySnapshot, Provenance } from "./types.ts";

/**
 * The policies after a proposal's typed actions, computed the way the registry and the allocator apply
 * them, from the policies in force. Pure and free of Node-only imports (only types come from chain/), so
 * that the API, a later shadow evaluation of queued proposals and the web app all use this one reading.
 */

/** Governor settings as the index has them; a setting it has never seen is absent. */
export type GovernorSettings = Partial<Record<GovernorSetting, bigint>>;

/** The emergency brake as the index has it; a setting it has never seen is absent. */
export interface GuardianSettings {
  /** The governor's proposal guardian (the zero address: none). */
  guardian?: string;
  /** How long a guardian's suspension of a model lasts, in seconds (the registry's). */
  suspensionPeriod?: number;
}

/** Everything a proposal can change: the policy snapshot decisions read, the governor's settings, the guardian. */
export interface GovernanceState {
  policies: PolicySnapshot;
  governor: GovernorSettings;
  guardian: GuardianSettings;
  /** The id the allocator gives its next grant (grants are numbered from 1). */
  nextGrantId: bigint;
}

/** An action the contract will refuse when the proposal executes, which reverts the whole proposal. */
export interface ActionProblem {
  index: number;
  /** The contract's custom error (e.g. RegistryUnknownModel). */
  error: string;
  message: string;
}

export interface StateAfter {
  state: GovernanceState;
  /** Actions the contracts would refuse; the state above skips them. Any one reverts the proposal. */
  problems: ActionProblem[];
  /** Indexes of calls this service cannot read: their effect is not in the state above. */
  unknownCalls: number[];
}

/** Longest model id the registry and the allocator accept, in UTF-8 bytes (contracts/policy/ModelIds.sol). */
const MODEL_ID_MAX_BYTES = 128;
/** The registry's MIN_ and MAX_GUARDIAN_SUSPENSION_PERIOD in seconds (contracts/policy/PolicyRegistry.sol). */
const GUARDIAN_SUSPENSION_PERIOD_BOUNDS = [3_600, 30 * 86_400] as const;
const ZERO_HASH = /^0x0{64}$/;
const ZERO_ADDRESS = /^0x0{40}$/i;
const utf8 = new TextEncoder();

function validModelId(modelId: string): boolean {
  const bytes = utf8.encode(modelId).length;
  return bytes > 0 && bytes <= MODEL_ID_MAX_BYTES;
}

/**
 * Applies `actions` in order to `state`, as executing the proposal would. `enactedBy` is the provenance
 * the changed policies get (the proposal; no transaction yet).
 */
export function stateAfter(state: GovernanceState, actions: readonly Action[], enactedBy: Provenance): StateAfter {
  const models = new Map(state.policies.models);
  const grantsByConsumer = new Map(state.policies.grantsByConsumer);
  let pool = state.policies.pool;
  const governor = { ...state.governor };
  const guardian = { ...state.guardian };
  let nextGrantId = state.nextGrantId;
  const problems: ActionProblem[] = [];
  const unknownCalls: number[] = [];
  const problem = (index: number, error: string, message: string): ActionProblem => ({ index, error, message });

  /** Applies one action; returns why the contract would refuse it instead, if it would. */
  const apply = (action: Action, index: number): ActionProblem | null => {
    switch (action.kind) {
      case "SET_MODEL_POLICY": {
        if (!validModelId(action.modelId))
          return problem(index, "RegistryInvalidModelId", "model id must be 1 to 128 bytes");
        if (action.approved) {
          if (action.maxTokensPerRequest === 0 || action.requestsPerMinute === 0) {
            return problem(index, "RegistryZeroLimit", `an approved model needs limits above 0 (${action.modelId})`);
          }
          if (action.guidelineUri === "" || ZERO_HASH.test(action.guidelineHash)) {
            return problem(
              index,
              "RegistryMissingGuideline",
              `an approved model needs a guideline (${action.modelId})`,
            );
          }
        }
        const { kind: _, ...rules } = action;
        const version = (models.get(action.modelId)?.version ?? 0) + 1;
        models.set(
          action.modelId,
          modelPolicyOf({ ...rules, version, suspended: false, suspendReason: null, suspendedUntil: null }, enactedBy),
        );
        return null;
      }
      case "SUSPEND_MODEL": {
        if (!validModelId(action.modelId))
          return problem(index, "RegistryInvalidModelId", "model id must be 1 to 128 bytes");
        const current = models.get(action.modelId);
        if (current === undefined)
          return problem(index, "RegistryUnknownModel", `no policy was ever set for ${action.modelId}`);
        // A vote may confirm a guardian's suspension (which then no longer lapses), not repeat its own.
        if (current.suspended && current.suspendedUntil === null)
          return problem(index, "RegistryAlreadySuspended", `${action.modelId} is already suspended`);
        const { allowedPurposeSet: _s, blockedTermForms: _b, provenance: _p, ...rules } = current;
        models.set(
          action.modelId,
          modelPolicyOf(
            {
              ...rules,
              version: current.version + 1,
              suspended: true,
              suspendReason: action.reason,
              suspendedUntil: null,
            },
            enactedBy,
          ),
        );
        return null;
      }
      case "GRANT_ALLOCATION": {
        if (ZERO_ADDRESS.test(action.grantee))
          return problem(index, "AllocatorZeroAddress", "the grantee is the zero address");
        if (utf8.encode(action.modelId).length > MODEL_ID_MAX_BYTES) {
          return problem(index, "AllocatorInvalidModelId", "model id must be at most 128 bytes");
        }
        if (action.tokensPerEpoch === 0n)
          return problem(index, "AllocatorZeroAmount", "a grant needs tokens per epoch");
        if (action.end <= action.start)
          return problem(index, "AllocatorInvalidPeriod", "a grant must end after it starts");
        const grant = grantPolicyOf(
          {
            grantId: nextGrantId.toString(),
            grantee: action.grantee,
            modelId: action.modelId,
            tokensPerEpoch: tokenAmount(action.tokensPerEpoch),
            start: action.start,
            end: action.end,
          },
          enactedBy,
        );
        nextGrantId += 1n;
        grantsByConsumer.set(
          grant.grantee,
          [...(grantsByConsumer.get(grant.grantee) ?? []), grant].sort(spendingOrder),
        );
        return null;
      }
      case "REVOKE_ALLOCATION": {
        const id = action.grantId.toString();
        for (const [grantee, grants] of grantsByConsumer) {
          if (!grants.some((g) => g.grantId === id)) continue;
          const left = grants.filter((g) => g.grantId !== id);
          if (left.length === 0) grantsByConsumer.delete(grantee);
          else grantsByConsumer.set(grantee, left);
          return null;
        }
        // Ids below the next one were all given: a grant not live among them was revoked.
        return action.grantId < nextGrantId && action.grantId > 0n
          ? problem(index, "AllocatorGrantAlreadyRevoked", `grant ${id} is already revoked`)
          : problem(index, "AllocatorUnknownGrant", `there is no grant ${id}`);
      }
      case "SET_COMMUNITY_POOL": {
        if (action.epochLength === 0)
          return problem(index, "AllocatorZeroEpochLength", "the epoch length must not be 0");
        if (action.allowancePerAddress > action.poolSizePerEpoch) {
          return problem(index, "AllocatorAllowanceExceedsPool", "the allowance per address exceeds the pool");
        }
        pool = {
          allowancePerAddress: tokenAmount(action.allowancePerAddress),
          poolSizePerEpoch: tokenAmount(action.poolSizePerEpoch),
          epochLength: action.epochLength,
          provenance: enactedBy,
          minVotes: pool.minVotes,
        };
        return null;
      }
      case "SET_POOL_ELIGIBILITY":
        // The allocator's bound (a share of the token's supply) is checked by the simulation, on the chain.
        pool = { ...pool, minVotes: action.minVotes };
        return null;
      case "UPDATE_GOVERNOR_SETTING":
        governor[action.setting] = action.value;
        return null;
      // The guardian and its suspension period change no policy a decision reads; the diff shows them to
      // the voter all the same. Only the registry's bounds can refuse.
      case "SET_GUARDIAN":
        guardian.guardian = action.guardian;
        return null;
      case "SET_GUARDIAN_SUSPENSION_PERIOD": {
        const [min, max] = GUARDIAN_SUSPENSION_PERIOD_BOUNDS;
        if (action.period < min || action.period > max) {
          return problem(
            index,
            "RegistryInvalidSuspensionPeriod",
            `the suspension period must be ${min} to ${max} seconds`,
          );
        }
        guardian.suspensionPeriod = action.period;
        return null;
      }
      case "UNKNOWN":
        unknownCalls.push(index);
        return null;
    }
  };
  for (const [index, action] of actions.entries()) {
    const refused = apply(action, index);
    if (refused !== null) problems.push(refused);
  }
  return {
    state: { policies: { ...state.policies, models, grantsByConsumer, pool }, governor, guardian, nextGrantId },
    problems,
    unknownCalls,
  };
}

/** Every live grant of a snapshot by id. */
export function grantsById(policies: PolicySnapshot): Map<string, GrantPolicy> {
  const byId = new Map<string, GrantPolicy>();
  for (const grants of policies.grantsByConsumer.values()) for (const g of grants) byId.set(g.grantId, g);
  return byId;
}
