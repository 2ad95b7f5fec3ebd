import assert from "node:assert/strict";
import { getAddress, hexlify, id, ZeroAddress } from "ethers";
import fc from "fast-check";
import t from "tap";
import {
  type Action,
  decodeCall,
  encodeAction,
  type GovernorSetting,
  governorSettingFunctions,
  validateAction,
} from "../../services/chain/actions.ts";
import { contractInterface } from "../../services/chain/artifacts.ts";
import type { Deployment } from "../../services/chain/deployment.ts";
import { grantAction, policyAction } from "../../services/devkit/chain.ts";
import { isAppError } from "../../services/shared/errors.ts";
import { badActions } from "./bad-actions.ts";

// Encoding and decoding need only the addresses, not a chain.
const contracts: Deployment["contracts"] = {
  token: getAddress(`0x${"10".repeat(20)}`),
  timelock: getAddress(`0x${"20".repeat(20)}`),
  governor: getAddress(`0x${"30".repeat(20)}`),
  registry: getAddress(`0x${"40".repeat(20)}`),
  allocator: getAddress(`0x${"50".repeat(20)}`),
};

const MAX_UINT32 = 2 ** 32 - 1;
const MAX_UINT48 = 2n ** 48n - 1n;
const MAX_UINT128 = 2n ** 128n - 1n;
const MAX_UINT256 = 2n ** 256n - 1n;

/** What validateAction threw for `action` at `index`, or undefined when it accepted it. */
function refusal(action: Action, index = 0): { code: string; details: unknown } | undefined {
  try {
    validateAction(action, index);
  } catch (error) {
    if (!isAppError(error)) throw error;
    return { code: error.code, details: error.details };
  }
  return undefined;
}

t.test("validateAction refuses what the contracts refuse, naming the field", async (t) => {
  for (const [index, bad] of badActions.entries()) {
    t.same(refusal(bad.action, index), { code: "BAD_USER_INPUT", details: { index, field: bad.field } }, bad.title);
  }
});

t.test("validateAction also refuses what only the drafting step can catch", async (t) => {
  const cases: [string, Action, string][] = [
    ["a model id with a space", policyAction({ modelId: "llama 3" }), "modelId"],
    ["a model id with non-ASCII characters", policyAction({ modelId: "modèle" }), "modelId"],
    ["a token limit beyond uint32", policyAction({ maxTokensPerRequest: MAX_UINT32 + 1 }), "maxTokensPerRequest"],
    ["a negative request rate", policyAction({ approved: false, requestsPerMinute: -1 }), "requestsPerMinute"],
    ["a guideline hash that is not 32 bytes", policyAction({ guidelineHash: "0x1234" }), "guidelineHash"],
    ["a blank allowed purpose", policyAction({ allowedPurposes: ["research", " "] }), "allowedPurposes[1]"],
    ["a repeated blocked term", policyAction({ blockedTerms: ["x", "x"] }), "blockedTerms"],
    ["a suspension without a reason", { kind: "SUSPEND_MODEL", modelId: "m", reason: "  " }, "reason"],
    [
      "a grantee with a wrong checksum",
      { ...grantAction(), grantee: "0x70997970c51812dc3A010C7d01b50e0d17dc79C8" },
      "grantee",
    ],
    ["a grantee that is not an address", { ...grantAction(), grantee: "alice" }, "grantee"],
    ["a grant beyond uint128", { ...grantAction(), tokensPerEpoch: MAX_UINT128 + 1n }, "tokensPerEpoch"],
    ["a negative grant id", { kind: "REVOKE_ALLOCATION", grantId: -1n }, "grantId"],
    ["a pool beyond uint128", { ...poolAction(), poolSizePerEpoch: MAX_UINT128 + 1n }, "poolSizePerEpoch"],
    [
      "a quorum over 100 percent",
      { kind: "UPDATE_GOVERNOR_SETTING", setting: "QUORUM_NUMERATOR", value: 101n },
      "value",
    ],
    ["a zero voting period", { kind: "UPDATE_GOVERNOR_SETTING", setting: "VOTING_PERIOD", value: 0n }, "value"],
    [
      "a voting delay beyond uint48",
      { kind: "UPDATE_GOVERNOR_SETTING", setting: "VOTING_DELAY", value: MAX_UINT48 + 1n },
      "value",
    ],
    [
      "a setting the governor does not have",
      { kind: "UPDATE_GOVERNOR_SETTING", setting: "TIMELOCK" as GovernorSetting, value: 1n },
      "setting",
    ],
    ["an UNKNOWN call", { kind: "UNKNOWN", target: contracts.registry, calldata: "0x" }, "kind"],
    ["a negative pool minimum", { kind: "SET_POOL_ELIGIBILITY", minVotes: -1n }, "minVotes"],
    ["a guardian that is not an address", { kind: "SET_GUARDIAN", guardian: "alice" }, "guardian"],
    [
      "a guardian with a wrong checksum",
      { kind: "SET_GUARDIAN", guardian: "0x70997970c51812dc3A010C7d01b50e0d17dc79C8" },
      "guardian",
    ],
    ["a fractional suspension period", { kind: "SET_GUARDIAN_SUSPENSION_PERIOD", period: 3_600.5 }, "period"],
    ["a pool minimum beyond uint256", { kind: "SET_POOL_ELIGIBILITY", minVotes: MAX_UINT256 + 1n }, "minVotes"],
  ];
  for (const [title, action, field] of cases) {
    t.same(refusal(action, 3), { code: "BAD_USER_INPUT", details: { index: 3, field } }, title);
  }
});

t.test("validateAction refuses fractional numbers and text the ABI cannot encode with BAD_USER_INPUT", async (t) => {
  t.same(refusal(policyAction({ maxTokensPerRequest: 1.5 })), {
    code: "BAD_USER_INPUT",
    details: { index: 0, field: "maxTokensPerRequest" },
  });
  t.same(refusal({ ...grantAction(), start: 0.5 }), { code: "BAD_USER_INPUT", details: { index: 0, field: "start" } });
  t.same(refusal({ kind: "SUSPEND_MODEL", modelId: "m", reason: "bad \uD800 text" }), {
    code: "BAD_USER_INPUT",
    details: { index: 0, field: "reason" },
  });
  t.same(refusal(policyAction({ blockedTerms: ["ok", "\uDC00"] })), {
    code: "BAD_USER_INPUT",
    details: { index: 0, field: "blockedTerms" },
  });
});

function poolAction(): Extract<Action, { kind: "SET_COMMUNITY_POOL" }> {
  return { kind: "SET_COMMUNITY_POOL", allowancePerAddress: 1n, poolSizePerEpoch: 10n, epochLength: 60 };
}

// Canonical forms: decoding checksums addresses and lower-cases hex, so the generators produce those.
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hexlify(b));
const address = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((b) => getAddress(hexlify(b)))
  .filter((a) => a !== ZeroAddress);
const modelId = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 128,
});
const text = fc.string({ unit: "grapheme", maxLength: 40 });
const nonBlank = text.filter((s) => s.trim() !== "");
const uint32 = (min: number) => fc.integer({ min, max: MAX_UINT32 });
const settings = Object.keys(governorSettingFunctions) as GovernorSetting[];
const settingBounds: Record<GovernorSetting, [bigint, bigint]> = {
  VOTING_DELAY: [0n, MAX_UINT48],
  VOTING_PERIOD: [1n, BigInt(MAX_UINT32)],
  PROPOSAL_THRESHOLD: [0n, MAX_UINT256],
  QUORUM_NUMERATOR: [0n, 100n],
  LATE_QUORUM_EXTENSION: [0n, MAX_UINT48],
  SUPER_QUORUM_NUMERATOR: [1n, 100n],
};

const recordOfAnyKind = fc.oneof(
  fc.oneof(
    fc.record({
      kind: fc.constant("SET_MODEL_POLICY" as const),
      modelId,
      approved: fc.constant(true),
      maxTokensPerRequest: uint32(1),
      requestsPerMinute: uint32(1),
      allowedPurposes: fc.uniqueArray(nonBlank, { maxLength: 4 }),
      blockedTerms: fc.uniqueArray(nonBlank, { maxLength: 4 }),
      guidelineUri: nonBlank,
      guidelineHash: bytes32.filter((h) => BigInt(h) !== 0n),
    }),
    fc.record({
      kind: fc.constant("SET_MODEL_POLICY" as const),
      modelId,
      approved: fc.constant(false),
      maxTokensPerRequest: uint32(0),
      requestsPerMinute: uint32(0),
      allowedPurposes: fc.uniqueArray(nonBlank, { maxLength: 4 }),
      blockedTerms: fc.uniqueArray(nonBlank, { maxLength: 4 }),
      guidelineUri: text,
      guidelineHash: bytes32,
    }),
  ),
  fc.record({ kind: fc.constant("SUSPEND_MODEL" as const), modelId, reason: nonBlank }),
  fc
    .record({
      grantee: address,
      modelId: fc.oneof(fc.constant(""), modelId),
      tokensPerEpoch: fc.bigInt({ min: 1n, max: MAX_UINT128 }),
      // The allocator stores a grant's times in 40 bits.
      start: fc.integer({ min: 0, max: 2 ** 40 - 2 }),
      length: fc.integer({ min: 1, max: 10 ** 10 }),
    })
    .map(({ length, ...g }) => ({
      kind: "GRANT_ALLOCATION" as const,
      ...g,
      end: Math.min(g.start + length, 2 ** 40 - 1),
    })),
  fc.record({ kind: fc.constant("REVOKE_ALLOCATION" as const), grantId: fc.bigInt({ min: 1n, max: MAX_UINT256 }) }),
  fc
    .record({
      poolSizePerEpoch: fc.bigInt({ min: 0n, max: MAX_UINT128 }),
      share: fc.bigInt({ min: 0n, max: 1000n }),
      epochLength: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    })
    .map(({ share, ...p }) => ({
      kind: "SET_COMMUNITY_POOL" as const,
      allowancePerAddress: (p.poolSizePerEpoch * share) / 1000n,
      ...p,
    })),
  fc.record({ kind: fc.constant("SET_POOL_ELIGIBILITY" as const), minVotes: fc.bigInt({ min: 0n, max: MAX_UINT256 }) }),
  fc.record({ kind: fc.constant("SET_GUARDIAN" as const), guardian: fc.oneof(address, fc.constant(ZeroAddress)) }),
  fc.record({
    kind: fc.constant("SET_GUARDIAN_SUSPENSION_PERIOD" as const),
    period: fc.integer({ min: 3_600, max: 30 * 86_400 }),
  }),
  fc.constantFrom(...settings).chain((setting) =>
    fc.record({
      kind: fc.constant("UPDATE_GOVERNOR_SETTING" as const),
      setting: fc.constant(setting),
      value: fc.bigInt({ min: settingBounds[setting][0], max: settingBounds[setting][1] }),
    }),
  ),
);
// fc.record builds null-prototype objects; actions are plain ones.
const validAction: fc.Arbitrary<Action> = recordOfAnyKind.map((action) => ({ ...action }));

// Properties assert with node:assert so that a failure reports fast-check's shrunk counterexample.
t.test("validateAction accepts every well-formed action", async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(validAction, (action) => {
        assert.equal(refusal(action), undefined);
      }),
      { numRuns: 500 },
    ),
  );
});

t.test("decodeCall(encodeAction(a)) gives back a, for every well-formed action", async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(validAction, (action) => {
        const call = encodeAction(contracts, action);
        assert.equal(call.value, 0n);
        assert.deepStrictEqual(decodeCall(contracts, call.target, call.calldata), action);
      }),
      { numRuns: 500 },
    ),
  );
});

t.test("calls the service cannot read decode to UNKNOWN, verbatim", async (t) => {
  const foreignTarget = address.filter((a) => !Object.values(contracts).includes(a));
  const calldata = fc.uint8Array({ maxLength: 100 }).map((b) => hexlify(b));
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.oneof(foreignTarget, fc.constantFrom(...Object.values(contracts))), calldata, (target, data) => {
        // Keep only calldata that is not one of our functions (a 4-byte selector match is 1 in 2^32).
        fc.pre(!isOurs(target, data));
        const decoded = decodeCall(contracts, target.toLowerCase(), data);
        assert.deepStrictEqual(decoded, { kind: "UNKNOWN", target, calldata: data });
        const reencoded = encodeAction(contracts, decoded);
        assert.deepStrictEqual(decodeCall(contracts, reencoded.target, reencoded.calldata), decoded);
      }),
      { numRuns: 300 },
    ),
  );
});

function isOurs(target: string, data: string): boolean {
  return data.length >= 10 && decodeCall(contracts, target, data).kind !== "UNKNOWN";
}

t.test("decodeCall normalises addresses to checksum case and hashes to lower case", async (t) => {
  const upperHash = id("guideline").toUpperCase().replace("0X", "0x");
  const policy = encodeAction(contracts, policyAction({ guidelineHash: upperHash }));
  t.match(decodeCall(contracts, policy.target, policy.calldata), { guidelineHash: upperHash.toLowerCase() });
  const grant = encodeAction(contracts, { ...grantAction(), grantee: grantAction().grantee.toLowerCase() });
  t.match(decodeCall(contracts, grant.target, grant.calldata), { grantee: grantAction().grantee });
  t.same(decodeCall(contracts, grant.target, Buffer.from(grant.calldata.slice(2), "hex")), grantAction());
});

t.test("no action renounces ownership: the call reads as UNKNOWN, which cannot be proposed", async (t) => {
  for (const role of ["registry", "allocator"] as const) {
    const renounce = contractInterface(role).encodeFunctionData("renounceOwnership");
    const decoded = decodeCall(contracts, contracts[role], renounce);
    t.same(decoded, { kind: "UNKNOWN", target: contracts[role], calldata: renounce }, `${role}.renounceOwnership`);
    t.same(refusal(decoded, 2), { code: "BAD_USER_INPUT", details: { index: 2, field: "kind" } });
  }
});

t.test("calldata to one of our contracts that does not parse decodes to UNKNOWN", async (t) => {
  const truncated = encodeAction(contracts, policyAction()).calldata.slice(0, 74);
  t.same(decodeCall(contracts, contracts.registry, truncated), {
    kind: "UNKNOWN",
    target: contracts.registry,
    calldata: truncated,
  });
});
