import t from "tap";
import type { GovernorSetting } from "../../services/chain/actions.ts";
import { createChain, eventsOf, GovernanceHelper, ProposalState, revertOf } from "../../services/devkit/chain.ts";

// One chain for the file: each setting is changed by its own proposal, on top of the previous ones.
const chain = await createChain();
t.teardown(() => chain.close());
const governor = chain.contract("governor");
const token = chain.contract("token");
const tokens = (n: bigint) => n * 10n ** 18n;

function settingChange(setting: GovernorSetting, value: bigint) {
  return new GovernanceHelper(chain, [{ kind: "UPDATE_GOVERNOR_SETTING", setting, value }]);
}

t.test("the governor and the token both count time in seconds", async (t) => {
  t.equal(await governor.CLOCK_MODE(), "mode=timestamp");
  t.equal(await token.CLOCK_MODE(), "mode=timestamp");
  t.equal(await governor.token(), chain.deployment.contracts.token);
});

const changes: { setting: GovernorSetting; read: string; event: string; from: bigint; to: bigint }[] = [
  { setting: "VOTING_DELAY", read: "votingDelay", event: "VotingDelaySet", from: 1n, to: 30n },
  { setting: "VOTING_PERIOD", read: "votingPeriod", event: "VotingPeriodSet", from: 300n, to: 600n },
  {
    setting: "LATE_QUORUM_EXTENSION",
    read: "lateQuorumVoteExtension",
    event: "LateQuorumVoteExtensionSet",
    from: 60n,
    to: 120n,
  },
  { setting: "QUORUM_NUMERATOR", read: "quorumNumerator", event: "QuorumNumeratorUpdated", from: 4n, to: 10n },
  // 90%: the three holders' unanimity still decides early, and the tests below vote with all three.
  {
    setting: "SUPER_QUORUM_NUMERATOR",
    read: "superQuorumNumerator()",
    event: "SuperQuorumNumeratorUpdated",
    from: 100n,
    to: 90n,
  },
  // Last: from here on, proposing needs 1,000 tokens of voting power.
  {
    setting: "PROPOSAL_THRESHOLD",
    read: "proposalThreshold",
    event: "ProposalThresholdSet",
    from: tokens(1n),
    to: tokens(1_000n),
  },
];

for (const change of changes) {
  t.test(`UPDATE_GOVERNOR_SETTING ${change.setting}: ${change.from} → ${change.to}`, async (t) => {
    t.equal(await governor.getFunction(change.read)(), change.from);
    const helper = settingChange(change.setting, change.to);
    const executed = await helper.pass();
    t.same(eventsOf(chain, executed, "governor"), [
      { name: change.event, args: [change.from, change.to] },
      { name: "ProposalExecuted", args: [await helper.id()] },
    ]);
    t.equal(await governor.getFunction(change.read)(), change.to);
  });
}

t.test("the changed settings govern the next proposal", async (t) => {
  const [holder, , , stranger] = chain.signers;
  const helper = settingChange("VOTING_DELAY", 31n);
  const proposed = await helper.propose(holder);
  const proposedAt = BigInt((await proposed!.getBlock()).timestamp);
  const proposalId = await helper.id();
  t.equal(await governor.proposalSnapshot(proposalId), proposedAt + 30n, "new voting delay");
  t.equal(await governor.proposalDeadline(proposalId), proposedAt + 30n + 600n, "new voting period");

  await chain.mine();
  const supply: bigint = await token.totalSupply();
  t.equal(await governor.quorum(proposedAt), (supply * 10n) / 100n, "new quorum fraction");

  const other = settingChange("VOTING_DELAY", 32n);
  t.same(await revertOf(other.propose(stranger)), {
    name: "GovernorInsufficientProposerVotes",
    args: [stranger!.address, 0n, tokens(1_000n)],
  });
});

t.test("a setting the governor refuses passes the vote but fails at execution and stays queued", async (t) => {
  // validateAction stops these at drafting; a proposal sent straight to the chain still cannot apply them.
  for (const [setting, value, error] of [
    ["VOTING_PERIOD", 0n, { name: "GovernorSettingOutOfBounds", args: ["votingPeriod", 0n, 60n, 90n * 86_400n] }],
    ["QUORUM_NUMERATOR", 101n, { name: "GovernorSettingOutOfBounds", args: ["quorumNumerator", 101n, 1n, 100n] }],
    // Bounded by the voting period (600 s now); validateAction cannot know that bound offline.
    ["LATE_QUORUM_EXTENSION", 601n, { name: "GovernorPreventLateQuorumVoteExtensionTooLarge", args: [601n, 600n] }],
  ] as const) {
    const helper = settingChange(setting, value);
    await helper.passAndQueue();
    await helper.waitForEta();
    t.same(await revertOf(helper.execute()), error, setting);
    t.equal(await governor.state(await helper.id()), ProposalState.Queued);
  }
});
