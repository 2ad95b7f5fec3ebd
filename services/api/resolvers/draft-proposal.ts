import { AbiCoder, getAddress, id, keccak256 } from "ethers";
import {
  type Action,
  encodeAction,
  type GovernorSetting,
  POOL_MIN_VOTES_SUPPLY_DIVISOR,
  validateAction,
} from "../../chain/actions.ts";
import { contractInterface } from "../../chain/artifacts.ts";
import { indexCheckpoint } from "../../db/governance-queries.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";
import { impactOf } from "./proposal-impact.ts";
import { actionNode } from "./shapes.ts";

/** More calls than this in one proposal is a mistake, not governance. */
const MAX_ACTIONS = 20;
const MAX_DESCRIPTION_BYTES = 64 * 1024;

interface ActionInput {
  setModelPolicy?: Omit<Extract<Action, { kind: "SET_MODEL_POLICY" }>, "kind">;
  suspendModel?: { modelId: string; reason: string };
  grantAllocation?: { grantee: string; modelId: string; tokensPerEpoch: bigint; start: number; end: number };
  revokeAllocation?: { grantId: bigint };
  setCommunityPool?: { allowancePerAddress: bigint; poolSizePerEpoch: bigint; epochLength: number };
  updateGovernorSetting?: { setting: GovernorSetting; value: bigint };
  setPoolEligibility?: { minVotes: bigint };
  setGuardian?: { guardian: string };
  setGuardianSuspensionPeriod?: { period: number };
}

interface DraftInput {
  description: string;
  actions: ActionInput[];
  proposer?: string | null;
}

/** The one-of input as our Action union (graphql's @oneOf guarantees exactly one field is set). */
function toAction(input: ActionInput): Action {
  if (input.setModelPolicy) return { kind: "SET_MODEL_POLICY", ...input.setModelPolicy };
  if (input.suspendModel) return { kind: "SUSPEND_MODEL", ...input.suspendModel };
  if (input.grantAllocation) return { kind: "GRANT_ALLOCATION", ...input.grantAllocation };
  if (input.revokeAllocation) return { kind: "REVOKE_ALLOCATION", ...input.revokeAllocation };
  if (input.setCommunityPool) return { kind: "SET_COMMUNITY_POOL", ...input.setCommunityPool };
  if (input.updateGovernorSetting) return { kind: "UPDATE_GOVERNOR_SETTING", ...input.updateGovernorSetting };
  if (input.setPoolEligibility) return { kind: "SET_POOL_ELIGIBILITY", ...input.setPoolEligibility };
  if (input.setGuardian) return { kind: "SET_GUARDIAN", ...input.setGuardian };
  if (input.setGuardianSuspensionPeriod) {
    return { kind: "SET_GUARDIAN_SUSPENSION_PERIOD", ...input.setGuardianSuspensionPeriod };
  }
  throw new AppError("BAD_USER_INPUT", "an action must set exactly one of its fields");
}

/** The governor's hashProposal, computed off chain: keccak256(abi.encode(targets, values, calldatas, descriptionHash)). */
export function hashProposal(
  targets: string[],
  values: bigint[],
  calldatas: string[],
  descriptionHash: string,
): bigint {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["address[]", "uint256[]", "bytes[]", "bytes32"],
    [targets, values, calldatas, descriptionHash],
  );
  return BigInt(keccak256(encoded));
}

/**
 * What only the governor's current settings can tell: it refuses a late-quorum extension longer than
 * its voting period, so such a proposal would pass the vote and then fail at execution. The voting
 * period is the indexed one, or one set earlier in the same proposal (its calls run in order).
 */
async function checkAgainstGovernor(ctx: ApiContext, actions: Action[]): Promise<void> {
  let period: bigint | null = null;
  for (const [index, action] of actions.entries()) {
    if (action.kind !== "UPDATE_GOVERNOR_SETTING") continue;
    if (action.setting === "VOTING_PERIOD") period = action.value;
    if (action.setting !== "LATE_QUORUM_EXTENSION") continue;
    period ??= await indexedVotingPeriod(ctx);
    if (period !== null && action.value > period) {
      throw new AppError(
        "BAD_USER_INPUT",
        `actions[${index}].value must not exceed the voting period of ${period} seconds (the governor refuses a longer late-quorum extension)`,
        { details: { index, field: "value" } },
      );
    }
  }
}

/**
 * The allocator refuses a pool minimum above a ten-thousandth of the token's supply, which is fixed at
 * deployment and indexed: such a proposal would pass the vote and then fail at execution.
 */
async function checkAgainstAllocator(ctx: ApiContext, actions: Action[]): Promise<void> {
  for (const [index, action] of actions.entries()) {
    if (action.kind !== "SET_POOL_ELIGIBILITY") continue;
    const checkpoint = await indexCheckpoint(ctx.deps.database.db);
    if (checkpoint === null) return;
    const maximum = BigInt(checkpoint.total_supply) / POOL_MIN_VOTES_SUPPLY_DIVISOR;
    if (action.minVotes > maximum) {
      throw new AppError(
        "BAD_USER_INPUT",
        `actions[${index}].minVotes must not exceed ${maximum} (a ten-thousandth of the token's supply; the allocator refuses more)`,
        { details: { index, field: "minVotes" } },
      );
    }
  }
}

async function indexedVotingPeriod(ctx: ApiContext): Promise<bigint | null> {
  const row = await ctx.deps.database.db
    .selectFrom("governor_settings")
    .select("value")
    .where("setting", "=", "VOTING_PERIOD")
    .orderBy("block_number", "desc")
    .orderBy("log_index", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? BigInt(row.value) : null;
}

/** A description the author already bound: a second suffix would silently override the first. */
const PROPOSER_SUFFIX = /#proposer=0x[0-9a-fA-F]{40}$/;

/**
 * Whom the draft binds: the explicit `proposer`, else the signed-in wallet (its API key). The governor
 * accepts a description ending in `#proposer=<address>` only from that address, so nobody can propose the
 * same id first and then cancel it (a proposer may cancel while the proposal is pending). An unbound draft
 * is refused rather than drafted open to that.
 */
async function proposerOf(ctx: ApiContext, explicit: string | null | undefined): Promise<string> {
  if (explicit) return getAddress(explicit);
  const caller = await ctx.caller();
  if (caller.kind === "consumer") return getAddress(caller.address);
  throw new AppError(
    "PROPOSER_REQUIRED",
    "a draft is bound to the wallet that will propose it: pass `proposer`, or sign in with that wallet's API key",
    { details: { field: "proposer" } },
  );
}

export const draftProposalMutations = {
  async draftProposal(_: unknown, { input }: { input: DraftInput }, ctx: ApiContext) {
    const { deployment } = ctx.deps;
    if (input.description.trim() === "") throw new AppError("BAD_USER_INPUT", "description must not be empty");
    if (Buffer.byteLength(input.description) > MAX_DESCRIPTION_BYTES) {
      throw new AppError("BAD_USER_INPUT", `description must be at most ${MAX_DESCRIPTION_BYTES} bytes`);
    }
    if (input.actions.length === 0 || input.actions.length > MAX_ACTIONS) {
      throw new AppError("BAD_USER_INPUT", `a proposal needs 1 to ${MAX_ACTIONS} actions, got ${input.actions.length}`);
    }
    if (PROPOSER_SUFFIX.test(input.description)) {
      throw new AppError("BAD_USER_INPUT", "description must not end in #proposer=…: pass `proposer` instead", {
        details: { field: "description" },
      });
    }
    const actions = input.actions.map(toAction);
    actions.forEach(validateAction);
    await checkAgainstGovernor(ctx, actions);
    await checkAgainstAllocator(ctx, actions);
    const calls = actions.map((a) => encodeAction(deployment.contracts, a));
    const description = `${input.description}#proposer=${await proposerOf(ctx, input.proposer)}`;
    const targets = calls.map((c) => c.target);
    const values = calls.map((c) => c.value);
    const calldatas = calls.map((c) => c.calldata);
    const descriptionHash = id(description);
    const proposalId = hashProposal(targets, values, calldatas, descriptionHash);
    if (await ctx.loaders.proposal(proposalId.toString())) {
      throw new AppError("BAD_USER_INPUT", `proposal ${proposalId} already exists: change the description`, {
        details: { proposalId: proposalId.toString() },
      });
    }
    return {
      proposalId,
      description,
      descriptionHash,
      targets,
      values,
      calldatas,
      actions: actions.map((a, i) => actionNode(a as Record<string, unknown>, calls[i] as (typeof calls)[number])),
      transaction: {
        to: deployment.contracts.governor,
        data: contractInterface("governor").encodeFunctionData("propose", [targets, values, calldatas, description]),
        value: 0n,
        chainId: deployment.chainId,
      },
      // Resolved only when asked: what the proposal will do, before it is sent.
      impact: () => impactOf(ctx, { proposalId: proposalId.toString(), actions, calls }),
    };
  },
};
