import { type BytesLike, getAddress, hexlify, isAddress, type Result } from "ethers";
// The ABIs come from the compiled artifacts on the server and are bundled into the web app (package.json
// "imports"): this module runs in both, so it imports nothing Node-only.
import { contractInterface } from "#contract-interfaces";
import { AppError } from "../shared/errors.ts";
import type { Deployment } from "./contracts.ts";

/** What the policy registry stores for a model, as a proposal sets it (and as its event reports it). */
export interface PolicyRules {
  approved: boolean;
  maxTokensPerRequest: number;
  requestsPerMinute: number;
  allowedPurposes: string[];
  blockedTerms: string[];
  guidelineUri: string;
  guidelineHash: string;
}

/**
 * The typed meaning of one proposal call. Every action is exactly one call, so a proposal's actions
 * and its (targets, values, calldatas) line up index by index, both when drafting and when decoding.
 */
export type Action =
  | ({ kind: "SET_MODEL_POLICY"; modelId: string } & PolicyRules)
  | { kind: "SUSPEND_MODEL"; modelId: string; reason: string }
  | {
      kind: "GRANT_ALLOCATION";
      grantee: string;
      /** Empty: any approved model. */
      modelId: string;
      tokensPerEpoch: bigint;
      start: number;
      end: number;
    }
  | { kind: "REVOKE_ALLOCATION"; grantId: bigint }
  | { kind: "SET_COMMUNITY_POOL"; allowancePerAddress: bigint; poolSizePerEpoch: bigint; epochLength: number }
  /** The voting power (token wei) an address needs at an epoch's start to draw on the pool; 0: everyone. */
  | { kind: "SET_POOL_ELIGIBILITY"; minVotes: bigint }
  | { kind: "UPDATE_GOVERNOR_SETTING"; setting: GovernorSetting; value: bigint }
  /**
   * Appoints or replaces the guardian, who may cancel any proposal and suspend a model without a vote
   * (a suspension that lapses); the zero address removes the guardian. The governor's setProposalGuardian.
   */
  | { kind: "SET_GUARDIAN"; guardian: string }
  /** Seconds a guardian's suspension of a model lasts unless a vote confirms it (the registry's). */
  | { kind: "SET_GUARDIAN_SUSPENSION_PERIOD"; period: number }
  /** A call this service does not know how to read (kept verbatim, never dropped). */
  | { kind: "UNKNOWN"; target: string; calldata: string };

export type ActionKind = Action["kind"];

export const governorSettingFunctions = {
  VOTING_DELAY: "setVotingDelay",
  VOTING_PERIOD: "setVotingPeriod",
  PROPOSAL_THRESHOLD: "setProposalThreshold",
  QUORUM_NUMERATOR: "updateQuorumNumerator",
  LATE_QUORUM_EXTENSION: "setLateQuorumVoteExtension",
  SUPER_QUORUM_NUMERATOR: "updateSuperQuorumNumerator",
} as const;

export type GovernorSetting = keyof typeof governorSettingFunctions;

export interface EncodedCall {
  target: string;
  value: bigint;
  calldata: string;
}

const MAX_UINT32 = 2 ** 32 - 1;
const MAX_UINT48 = 2n ** 48n - 1n;
const MAX_UINT64 = 2n ** 64n - 1n;
/** The allocator packs a grant's times in 40 bits (until the year 36812). */
const MAX_GRANT_TIME = 2n ** 40n - 1n;
const MAX_UINT128 = 2n ** 128n - 1n;
const MAX_UINT256 = 2n ** 256n - 1n;

/**
 * The allocator's POOL_MIN_VOTES_SUPPLY_DIVISOR: the pool's minimum voting power is at most the token's
 * (fixed) supply divided by this.
 */
export const POOL_MIN_VOTES_SUPPLY_DIVISOR = 10_000n;

/** The registry's MIN_ and MAX_GUARDIAN_SUSPENSION_PERIOD, in seconds (one hour to 30 days). */
export const GUARDIAN_SUSPENSION_PERIOD_BOUNDS = [3_600, 30 * 86_400] as const;

function invalid(index: number, field: string, problem: string): never {
  throw new AppError("BAD_USER_INPUT", `actions[${index}].${field} ${problem}`, { details: { index, field } });
}

function checkModelId(index: number, modelId: string, field = "modelId"): void {
  const bytes = new TextEncoder().encode(modelId).length;
  if (bytes === 0 || bytes > 128) invalid(index, field, "must be 1 to 128 bytes long");
  if (!/^[\x21-\x7e]+$/.test(modelId)) invalid(index, field, "must be printable ASCII without spaces");
}

/** A well-formed address (all lower case, or checksummed); the zero address only where it means "none". */
function checkAddress(index: number, field: string, address: string, options: { zero: boolean }): void {
  if (!isAddress(address) || (!options.zero && /^0x0{40}$/.test(address))) {
    invalid(index, field, options.zero ? "must be an address" : "must be a non-zero address");
  }
  if (address !== address.toLowerCase() && getAddress(address) !== address)
    invalid(index, field, "has a wrong checksum");
}

function checkRange(index: number, field: string, value: bigint | number, min: bigint, max: bigint): void {
  if (typeof value === "number" && !Number.isInteger(value))
    invalid(index, field, `must be a whole number, got ${value}`);
  const v = BigInt(value);
  if (v < min || v > max) invalid(index, field, `must be between ${min} and ${max}, got ${v}`);
}

// A lone UTF-16 surrogate has no UTF-8 encoding, so the ABI encoder would refuse it later.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkWellFormedText(action: Action, index: number): void {
  for (const [field, value] of Object.entries(action)) {
    const texts: unknown[] = Array.isArray(value) ? value : [value];
    if (texts.some((text) => typeof text === "string" && loneSurrogate.test(text))) {
      invalid(index, field, "must be valid Unicode text");
    }
  }
}

/** Inclusive bounds of each governor setting, as the governor's setters accept them. */
const governorSettingBounds: Record<GovernorSetting, [bigint, bigint]> = {
  VOTING_DELAY: [0n, MAX_UINT48],
  VOTING_PERIOD: [1n, BigInt(MAX_UINT32)],
  PROPOSAL_THRESHOLD: [0n, MAX_UINT256],
  QUORUM_NUMERATOR: [0n, 100n],
  LATE_QUORUM_EXTENSION: [0n, MAX_UINT48],
  // At least the quorum too; the governor checks that against its own numerator at execution.
  SUPER_QUORUM_NUMERATOR: [1n, 100n],
};

/**
 * Checks one action the way the contract will, so that a bad proposal is refused at drafting time with
 * a message naming the field, rather than reverting at execution days later.
 */
export function validateAction(action: Action, index: number): void {
  checkWellFormedText(action, index);
  switch (action.kind) {
    case "SET_MODEL_POLICY": {
      checkModelId(index, action.modelId);
      if (action.approved) {
        checkRange(index, "maxTokensPerRequest", action.maxTokensPerRequest, 1n, BigInt(MAX_UINT32));
        checkRange(index, "requestsPerMinute", action.requestsPerMinute, 1n, BigInt(MAX_UINT32));
        if (!action.guidelineUri) invalid(index, "guidelineUri", "is required for an approved model");
      } else {
        checkRange(index, "maxTokensPerRequest", action.maxTokensPerRequest, 0n, BigInt(MAX_UINT32));
        checkRange(index, "requestsPerMinute", action.requestsPerMinute, 0n, BigInt(MAX_UINT32));
      }
      if (!/^0x[0-9a-fA-F]{64}$/.test(action.guidelineHash)) {
        invalid(index, "guidelineHash", "must be a 32-byte hex string (0x + 64 hex digits)");
      }
      if (action.approved && /^0x0{64}$/.test(action.guidelineHash)) {
        invalid(index, "guidelineHash", "must not be zero for an approved model");
      }
      for (const [field, list] of [
        ["allowedPurposes", action.allowedPurposes],
        ["blockedTerms", action.blockedTerms],
      ] as const) {
        list.forEach((item, i) => {
          if (item.trim() === "") invalid(index, `${field}[${i}]`, "must not be empty");
        });
        if (new Set(list).size !== list.length) invalid(index, field, "must not repeat an entry");
      }
      return;
    }
    case "SUSPEND_MODEL":
      checkModelId(index, action.modelId);
      if (action.reason.trim() === "") invalid(index, "reason", "must say why the model is suspended");
      return;
    case "GRANT_ALLOCATION":
      checkAddress(index, "grantee", action.grantee, { zero: false });
      if (action.modelId !== "") checkModelId(index, action.modelId);
      checkRange(index, "tokensPerEpoch", action.tokensPerEpoch, 1n, MAX_UINT128);
      checkRange(index, "start", action.start, 0n, MAX_GRANT_TIME);
      checkRange(index, "end", action.end, 0n, MAX_GRANT_TIME);
      if (action.end <= action.start) invalid(index, "end", "must be after start");
      return;
    case "REVOKE_ALLOCATION":
      checkRange(index, "grantId", action.grantId, 1n, MAX_UINT256);
      return;
    case "SET_COMMUNITY_POOL":
      checkRange(index, "allowancePerAddress", action.allowancePerAddress, 0n, MAX_UINT128);
      checkRange(index, "poolSizePerEpoch", action.poolSizePerEpoch, 0n, MAX_UINT128);
      checkRange(index, "epochLength", action.epochLength, 1n, MAX_UINT64);
      if (action.allowancePerAddress > action.poolSizePerEpoch) {
        invalid(index, "allowancePerAddress", "must not exceed poolSizePerEpoch");
      }
      return;
    case "SET_POOL_ELIGIBILITY":
      // The allocator's upper bound (a fraction of the token's supply) is checked at execution; the
      // supply is fixed at deployment, so a draft above it would only waste a vote.
      checkRange(index, "minVotes", action.minVotes, 0n, MAX_UINT256);
      return;
    case "UPDATE_GOVERNOR_SETTING": {
      const bounds = governorSettingBounds[action.setting];
      if (!bounds) invalid(index, "setting", "is not a governor setting");
      checkRange(index, "value", action.value, bounds[0], bounds[1]);
      return;
    }
    case "SET_GUARDIAN":
      checkAddress(index, "guardian", action.guardian, { zero: true });
      return;
    case "SET_GUARDIAN_SUSPENSION_PERIOD": {
      const [min, max] = GUARDIAN_SUSPENSION_PERIOD_BOUNDS;
      checkRange(index, "period", action.period, BigInt(min), BigInt(max));
      return;
    }
    case "UNKNOWN":
      invalid(index, "kind", "UNKNOWN cannot be proposed");
  }
}

/** Encodes one validated action into the call the timelock will make. */
export function encodeAction(contracts: Deployment["contracts"], action: Action): EncodedCall {
  switch (action.kind) {
    case "SET_MODEL_POLICY":
      return call(contracts.registry, "registry", "setPolicy", [action.modelId, policyRulesToAbi(action)]);
    case "SUSPEND_MODEL":
      return call(contracts.registry, "registry", "suspendModel", [action.modelId, action.reason]);
    case "GRANT_ALLOCATION":
      return call(contracts.allocator, "allocator", "grant", [
        getAddress(action.grantee),
        action.modelId,
        action.tokensPerEpoch,
        action.start,
        action.end,
      ]);
    case "REVOKE_ALLOCATION":
      return call(contracts.allocator, "allocator", "revoke", [action.grantId]);
    case "SET_COMMUNITY_POOL":
      return call(contracts.allocator, "allocator", "setCommunityPool", [
        {
          allowancePerAddress: action.allowancePerAddress,
          poolSizePerEpoch: action.poolSizePerEpoch,
          epochLength: action.epochLength,
        },
      ]);
    case "SET_POOL_ELIGIBILITY":
      return call(contracts.allocator, "allocator", "setPoolEligibility", [action.minVotes]);
    case "UPDATE_GOVERNOR_SETTING":
      return call(contracts.governor, "governor", governorSettingFunctions[action.setting], [action.value]);
    case "SET_GUARDIAN":
      return call(contracts.governor, "governor", "setProposalGuardian", [getAddress(action.guardian)]);
    case "SET_GUARDIAN_SUSPENSION_PERIOD":
      return call(contracts.registry, "registry", "setGuardianSuspensionPeriod", [action.period]);
    case "UNKNOWN":
      return { target: action.target, value: 0n, calldata: action.calldata };
  }
}

function call(target: string, role: "registry" | "allocator" | "governor", fn: string, args: unknown[]): EncodedCall {
  return { target, value: 0n, calldata: contractInterface(role).encodeFunctionData(fn, args) };
}

/** PolicyRules as the registry's PolicyInput tuple (for setPolicy and matchesRules). */
export function policyRulesToAbi(rules: PolicyRules) {
  return {
    approved: rules.approved,
    maxTokensPerRequest: rules.maxTokensPerRequest,
    requestsPerMinute: rules.requestsPerMinute,
    allowedPurposes: rules.allowedPurposes,
    blockedTerms: rules.blockedTerms,
    guidelineURI: rules.guidelineUri,
    guidelineHash: rules.guidelineHash,
  };
}

/** Reads the registry's PolicyInput tuple (from calldata or an event) into PolicyRules. */
export function policyRulesFromAbi(p: Result): PolicyRules {
  return {
    approved: p.approved,
    maxTokensPerRequest: Number(p.maxTokensPerRequest),
    requestsPerMinute: Number(p.requestsPerMinute),
    allowedPurposes: [...p.allowedPurposes],
    blockedTerms: [...p.blockedTerms],
    guidelineUri: p.guidelineURI,
    guidelineHash: p.guidelineHash,
  };
}

/** Reads a proposal call back into its typed action; anything foreign becomes UNKNOWN, never an error. */
export function decodeCall(contracts: Deployment["contracts"], target: string, calldata: BytesLike): Action {
  const data = typeof calldata === "string" ? calldata : hexlify(calldata);
  const unknown: Action = { kind: "UNKNOWN", target: getAddress(target), calldata: data };
  const to = getAddress(target);
  try {
    if (to === contracts.registry) {
      const parsed = contractInterface("registry").parseTransaction({ data });
      if (parsed?.name === "setPolicy") {
        const [modelId, p] = parsed.args;
        return { kind: "SET_MODEL_POLICY", modelId, ...policyRulesFromAbi(p) };
      }
      if (parsed?.name === "suspendModel") {
        return { kind: "SUSPEND_MODEL", modelId: parsed.args[0], reason: parsed.args[1] };
      }
      if (parsed?.name === "setGuardianSuspensionPeriod") {
        return { kind: "SET_GUARDIAN_SUSPENSION_PERIOD", period: Number(parsed.args[0]) };
      }
    } else if (to === contracts.allocator) {
      const parsed = contractInterface("allocator").parseTransaction({ data });
      if (parsed?.name === "grant") {
        const [grantee, modelId, tokensPerEpoch, start, end] = parsed.args;
        return {
          kind: "GRANT_ALLOCATION",
          grantee: getAddress(grantee),
          modelId,
          tokensPerEpoch: BigInt(tokensPerEpoch),
          start: Number(start),
          end: Number(end),
        };
      }
      if (parsed?.name === "revoke") return { kind: "REVOKE_ALLOCATION", grantId: BigInt(parsed.args[0]) };
      if (parsed?.name === "setCommunityPool") {
        const p = parsed.args[0];
        return {
          kind: "SET_COMMUNITY_POOL",
          allowancePerAddress: BigInt(p.allowancePerAddress),
          poolSizePerEpoch: BigInt(p.poolSizePerEpoch),
          epochLength: Number(p.epochLength),
        };
      }
      if (parsed?.name === "setPoolEligibility") {
        return { kind: "SET_POOL_ELIGIBILITY", minVotes: BigInt(parsed.args[0]) };
      }
    } else if (to === contracts.governor) {
      const parsed = contractInterface("governor").parseTransaction({ data });
      const setting = (Object.keys(governorSettingFunctions) as GovernorSetting[]).find(
        (s) => governorSettingFunctions[s] === parsed?.name,
      );
      if (setting && parsed) return { kind: "UPDATE_GOVERNOR_SETTING", setting, value: BigInt(parsed.args[0]) };
      if (parsed?.name === "setProposalGuardian") return { kind: "SET_GUARDIAN", guardian: getAddress(parsed.args[0]) };
    }
  } catch {
    // Calldata that does not parse against our ABI is a foreign call: kept as UNKNOWN below.
  }
  return unknown;
}
