import { type Contract, getBytes, hexlify, id, ZeroAddress, ZeroHash } from "ethers";
import fc from "fast-check";
import type { Action } from "../../services/chain/actions.ts";
import { type Chain, GovernanceHelper, type Signer, Vote } from "../../services/devkit/chain.ts";

/** One step of a random governance history; steps that the contracts refuse are simply skipped. */
export type Step =
  | { op: "transfer"; from: number; to: number; amount: bigint }
  | { op: "delegate"; who: number; to: number }
  | { op: "propose"; proposer: number; actions: Action[] }
  | { op: "vote"; p: number; voter: number; support: number; bySig: boolean; reason: boolean }
  | { op: "wait"; seconds: number }
  | { op: "queue"; p: number }
  | { op: "execute"; p: number; viaTimelock: boolean }
  | { op: "cancel"; p: number }
  /** Drives proposal p through to execution: makes policy, grant, pool and settings changes common. */
  | { op: "enact"; p: number; viaTimelock: boolean }
  /** The emergency brake on a model, pulled by `who` (holder 0 is the development guardian, until replaced). */
  | { op: "brake"; who: number; model: number }
  /** A proposal that changes the brake's settings (calls on the governor or the registry, built at play time). */
  | { op: "proposeGuardianChange"; proposer: number; change: GuardianChange };

type GuardianChange = "appoint0" | "appoint1" | "remove" | "superQuorum" | "period";

/** Wallets that take part: the three token holders and five others. */
export const PARTICIPANTS = 8;
const models = ["model-a", "model-b"];

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant("SET_MODEL_POLICY" as const),
    modelId: fc.constantFrom(...models),
    approved: fc.constant(true),
    maxTokensPerRequest: fc.integer({ min: 1, max: 4096 }),
    requestsPerMinute: fc.integer({ min: 1, max: 600 }),
    allowedPurposes: fc.subarray(["research", "education", "health"]),
    blockedTerms: fc.subarray(["term-x", "term-y"]),
    guidelineUri: fc.constantFrom("ipfs://g/1", "ipfs://g/2"),
    guidelineHash: fc.constantFrom(id("g1"), id("g2")),
  }),
  fc.record({
    kind: fc.constant("SET_MODEL_POLICY" as const),
    modelId: fc.constantFrom(...models),
    approved: fc.boolean(),
    maxTokensPerRequest: fc.integer({ min: 1, max: 4096 }),
    requestsPerMinute: fc.integer({ min: 1, max: 600 }),
    allowedPurposes: fc.subarray(["research", "education", "health"]),
    blockedTerms: fc.subarray(["term-x", "term-y"]),
    guidelineUri: fc.constantFrom("ipfs://g/1", "ipfs://g/2"),
    guidelineHash: fc.constantFrom(id("g1"), id("g2")),
  }),
  fc.record({
    kind: fc.constant("SUSPEND_MODEL" as const),
    modelId: fc.constantFrom(...models),
    reason: fc.constant("unsafe"),
  }),
  fc.record({
    kind: fc.constant("GRANT_ALLOCATION" as const),
    grantee: fc.constantFrom(
      "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
      "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    ),
    modelId: fc.constantFrom("", ...models),
    tokensPerEpoch: fc.bigInt({ min: 1n, max: 10n ** 30n }),
    start: fc.constant(0),
    end: fc.integer({ min: 1, max: 2 ** 40 }),
  }),
  fc.record({ kind: fc.constant("REVOKE_ALLOCATION" as const), grantId: fc.bigInt({ min: 1n, max: 3n }) }),
  fc
    .record({
      kind: fc.constant("SET_COMMUNITY_POOL" as const),
      allowancePerAddress: fc.bigInt({ min: 0n, max: 10_000n }),
      poolSizePerEpoch: fc.bigInt({ min: 10_000n, max: 10n ** 12n }),
      epochLength: fc.integer({ min: 60, max: 86_400 }),
    })
    .map((a) => a as Action),
  // Up to the allocator's bound for three holders of 1M (300 tokens), and one just above it (refused).
  fc.record({
    kind: fc.constant("SET_POOL_ELIGIBILITY" as const),
    minVotes: fc.constantFrom(0n, 1n, 100n * 10n ** 18n, 300n * 10n ** 18n, 300n * 10n ** 18n + 1n),
  }),
  fc.oneof(
    fc.record({
      kind: fc.constant("UPDATE_GOVERNOR_SETTING" as const),
      setting: fc.constant("QUORUM_NUMERATOR" as const),
      value: fc.bigInt({ min: 1n, max: 30n }),
    }),
    fc.record({
      kind: fc.constant("UPDATE_GOVERNOR_SETTING" as const),
      setting: fc.constant("VOTING_PERIOD" as const),
      value: fc.bigInt({ min: 200n, max: 400n }),
    }),
    fc.record({
      kind: fc.constant("UPDATE_GOVERNOR_SETTING" as const),
      setting: fc.constant("LATE_QUORUM_EXTENSION" as const),
      value: fc.bigInt({ min: 0n, max: 120n }),
    }),
  ),
);

const index = fc.integer({ min: 0, max: 7 });
const participant = fc.integer({ min: 0, max: PARTICIPANTS - 1 });
const holder = fc.integer({ min: 0, max: 2 });

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("transfer" as const),
      from: holder,
      to: participant,
      amount: fc.bigInt({ min: 1n, max: 300_000n * 10n ** 18n }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delegate" as const), who: participant, to: participant }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("propose" as const),
      proposer: holder,
      actions: fc.array(actionArb, { minLength: 1, maxLength: 2 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("vote" as const),
      p: index,
      voter: participant,
      support: fc.constantFrom(Vote.Against, Vote.For, Vote.Abstain),
      bySig: fc.boolean(),
      reason: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("wait" as const), seconds: fc.integer({ min: 1, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("queue" as const), p: index }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("execute" as const), p: index, viaTimelock: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("cancel" as const), p: index }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("enact" as const), p: index, viaTimelock: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("brake" as const),
      who: fc.integer({ min: 0, max: 1 }),
      model: fc.integer({ min: 0, max: models.length - 1 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("proposeGuardianChange" as const),
      proposer: holder,
      change: fc.constantFrom<GuardianChange>("appoint0", "appoint1", "remove", "superQuorum", "period"),
    }),
  },
);

/** A guardian change as the typed action a proposal carries (the index decodes it back to its kind). */
function guardianChangeAction(chain: Chain, change: GuardianChange): Action {
  switch (change) {
    case "appoint0":
      return { kind: "SET_GUARDIAN", guardian: chain.signers[0]!.address };
    case "appoint1":
      return { kind: "SET_GUARDIAN", guardian: chain.signers[1]!.address };
    case "remove":
      return { kind: "SET_GUARDIAN", guardian: ZeroAddress };
    case "superQuorum":
      return { kind: "UPDATE_GOVERNOR_SETTING", setting: "SUPER_QUORUM_NUMERATOR", value: 60n };
    case "period":
      return { kind: "SET_GUARDIAN_SUSPENSION_PERIOD", period: 3_600 };
  }
}

/** Plays `steps` on the chain; returns how many steps the contracts accepted. */
export async function playHistory(chain: Chain, steps: Step[]): Promise<number> {
  const proposals: GovernanceHelper[] = [];
  const signers = chain.signers.slice(0, PARTICIPANTS) as Signer[];
  let accepted = 0;
  let counter = 0;
  const attempt = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      accepted++;
    } catch {
      // A step the contracts refuse (revert) is part of a random history: it changes nothing.
    }
  };
  // Recent proposals are the live ones: counting from the newest keeps most steps meaningful.
  const pick = (p: number) => proposals[proposals.length - 1 - (p % Math.max(1, proposals.length))];

  for (const step of steps) {
    switch (step.op) {
      case "transfer":
        await attempt(async () =>
          (
            await (chain.contract("token", signers[step.from]) as Contract).transfer(
              signers[step.to]!.address,
              step.amount,
            )
          ).wait(),
        );
        break;
      case "delegate":
        await attempt(async () =>
          (await (chain.contract("token", signers[step.who]) as Contract).delegate(signers[step.to]!.address)).wait(),
        );
        break;
      case "propose": {
        const helper = new GovernanceHelper(chain, step.actions, `history proposal ${counter++}`);
        await attempt(async () => {
          await helper.propose(signers[step.proposer]);
          proposals.push(helper);
        });
        break;
      }
      case "vote": {
        const helper = pick(step.p);
        if (!helper) break;
        const voter = signers[step.voter] as Signer;
        await attempt(async () => {
          if (step.bySig) {
            // A signed ballot with a reason is relayed in its extended form, which keeps the reason.
            const reason = step.reason ? "signed because" : undefined;
            const ballot = await helper.signBallot(voter, step.support, reason);
            const governor = chain.contract("governor");
            const sent =
              reason === undefined
                ? await governor.castVoteBySig(ballot.proposalId, ballot.support, ballot.voter, ballot.signature)
                : await governor.castVoteWithReasonAndParamsBySig(
                    ballot.proposalId,
                    ballot.support,
                    ballot.voter,
                    reason,
                    "0x",
                    ballot.signature,
                  );
            await sent.wait();
          } else await helper.vote(voter, step.support, step.reason ? "because" : undefined);
        });
        break;
      }
      case "wait":
        await chain.increaseTime(step.seconds);
        break;
      case "queue":
        if (pick(step.p)) await attempt(() => pick(step.p)!.queue());
        break;
      case "execute":
        if (pick(step.p)) await attempt(() => execute(chain, pick(step.p)!, step.viaTimelock));
        break;
      case "cancel":
        if (pick(step.p)) await attempt(() => pick(step.p)!.cancel());
        break;
      case "brake":
        await attempt(async () =>
          (
            await (chain.contract("registry", signers[step.who]) as Contract).guardianSuspendModel(
              models[step.model],
              "brake",
            )
          ).wait(),
        );
        break;
      case "proposeGuardianChange": {
        const helper = new GovernanceHelper(
          chain,
          [guardianChangeAction(chain, step.change)],
          `history guardian change ${counter++}`,
        );
        await attempt(async () => {
          await helper.propose(signers[step.proposer]);
          proposals.push(helper);
        });
        break;
      }
      case "enact": {
        const helper = pick(step.p);
        if (!helper) break;
        await attempt(async () => {
          await helper.waitForSnapshot();
          for (const voter of signers.slice(0, 3)) await helper.vote(voter, Vote.For).catch(() => {});
          await helper.waitForDeadline();
          await helper.queue();
          await helper.waitForEta();
          await execute(chain, helper, step.viaTimelock);
        });
        break;
      }
    }
  }
  return accepted;
}

/** Executes through the governor, or straight on the timelock (anyone may: the executor role is open). */
async function execute(chain: Chain, helper: GovernanceHelper, viaTimelock: boolean) {
  if (!viaTimelock) return helper.execute();
  const salt = getBytes(helper.descriptionHash);
  const prefix = getBytes(chain.deployment.contracts.governor);
  for (let i = 0; i < prefix.length; i++) salt[i] = (salt[i] as number) ^ (prefix[i] as number);
  const timelock = chain.contract("timelock", chain.signers[5]);
  return (await timelock.executeBatch(helper.targets, helper.values, helper.calldatas, ZeroHash, hexlify(salt))).wait();
}
