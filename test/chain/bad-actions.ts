import { ZeroAddress } from "ethers";
import type { Action } from "../../services/chain/actions.ts";
import { grantAction, policyAction } from "../../services/devkit/chain.ts";

/**
 * Inputs that both the contracts and `validateAction` refuse, each with the custom error the contract
 * reverts with. One table drives both sides (test/contracts/input-validation.test.ts on chain,
 * test/chain/actions.test.ts offline), so the drafting check and the contract cannot drift apart.
 */
export interface BadAction {
  title: string;
  action: Action;
  /** The field validateAction names in its error details. */
  field: string;
  error: { name: string; args: unknown[] };
}

const tooLongModelId = "m".repeat(129);
const zeroHash = `0x${"00".repeat(32)}`;

export const badActions: BadAction[] = [
  {
    title: "policy for an empty model id",
    action: policyAction({ modelId: "" }),
    field: "modelId",
    error: { name: "RegistryInvalidModelId", args: [""] },
  },
  {
    title: "policy for a model id over 128 bytes",
    action: policyAction({ modelId: tooLongModelId }),
    field: "modelId",
    error: { name: "RegistryInvalidModelId", args: [tooLongModelId] },
  },
  {
    title: "approved policy without a token limit",
    action: policyAction({ maxTokensPerRequest: 0 }),
    field: "maxTokensPerRequest",
    error: { name: "RegistryZeroLimit", args: ["commons-dev-1", "maxTokensPerRequest"] },
  },
  {
    title: "approved policy without a request rate",
    action: policyAction({ requestsPerMinute: 0 }),
    field: "requestsPerMinute",
    error: { name: "RegistryZeroLimit", args: ["commons-dev-1", "requestsPerMinute"] },
  },
  {
    title: "approved policy without a guideline URI",
    action: policyAction({ guidelineUri: "" }),
    field: "guidelineUri",
    error: { name: "RegistryMissingGuideline", args: ["commons-dev-1"] },
  },
  {
    title: "approved policy with a zero guideline hash",
    action: policyAction({ guidelineHash: zeroHash }),
    field: "guidelineHash",
    error: { name: "RegistryMissingGuideline", args: ["commons-dev-1"] },
  },
  {
    title: "suspension of an empty model id",
    action: { kind: "SUSPEND_MODEL", modelId: "", reason: "unsafe" },
    field: "modelId",
    error: { name: "RegistryInvalidModelId", args: [""] },
  },
  {
    title: "suspension of a model id over 128 bytes",
    action: { kind: "SUSPEND_MODEL", modelId: tooLongModelId, reason: "unsafe" },
    field: "modelId",
    error: { name: "RegistryInvalidModelId", args: [tooLongModelId] },
  },
  {
    title: "grant to the zero address",
    action: grantAction({ grantee: ZeroAddress }),
    field: "grantee",
    error: { name: "AllocatorZeroAddress", args: [] },
  },
  {
    title: "grant of zero tokens",
    action: grantAction({ tokensPerEpoch: 0n }),
    field: "tokensPerEpoch",
    error: { name: "AllocatorZeroAmount", args: [] },
  },
  {
    title: "grant that ends when it starts",
    action: grantAction({ start: 5_000, end: 5_000 }),
    field: "end",
    error: { name: "AllocatorInvalidPeriod", args: [5_000n, 5_000n] },
  },
  {
    title: "grant that ends before it starts",
    action: grantAction({ start: 5_000, end: 4_999 }),
    field: "end",
    error: { name: "AllocatorInvalidPeriod", args: [5_000n, 4_999n] },
  },
  {
    title: "grant scoped to a model id over 128 bytes",
    action: grantAction({ modelId: tooLongModelId }),
    field: "modelId",
    error: { name: "AllocatorInvalidModelId", args: [tooLongModelId] },
  },
  {
    title: "revocation of grant 0 (ids start at 1)",
    action: { kind: "REVOKE_ALLOCATION", grantId: 0n },
    field: "grantId",
    error: { name: "AllocatorUnknownGrant", args: [0n] },
  },
  {
    title: "community pool with a zero epoch length",
    action: { kind: "SET_COMMUNITY_POOL", allowancePerAddress: 1n, poolSizePerEpoch: 10n, epochLength: 0 },
    field: "epochLength",
    error: { name: "AllocatorZeroEpochLength", args: [] },
  },
  {
    title: "community pool whose per-address allowance exceeds the pool",
    action: { kind: "SET_COMMUNITY_POOL", allowancePerAddress: 11n, poolSizePerEpoch: 10n, epochLength: 3_600 },
    field: "allowancePerAddress",
    error: { name: "AllocatorAllowanceExceedsPool", args: [11n, 10n] },
  },
  {
    title: "guardian suspension period under an hour",
    action: { kind: "SET_GUARDIAN_SUSPENSION_PERIOD", period: 3_599 },
    field: "period",
    error: { name: "RegistryInvalidSuspensionPeriod", args: [3_599n, 3_600n, 2_592_000n] },
  },
  {
    title: "guardian suspension period over 30 days",
    action: { kind: "SET_GUARDIAN_SUSPENSION_PERIOD", period: 2_592_001 },
    field: "period",
    error: { name: "RegistryInvalidSuspensionPeriod", args: [2_592_001n, 3_600n, 2_592_000n] },
  },
];
