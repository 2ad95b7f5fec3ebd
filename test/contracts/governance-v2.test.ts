import { Signature } from "ethers";
import t, { type Test } from "tap";
import type { Action } from "../../services/chain/actions.ts";
import { proposalNonceKey } from "../../services/chain/contracts.ts";
import {
  createChain,
  eventsOf,
  GovernanceHelper,
  ProposalState,
  policyAction,
  revertOf,
  type Signer,
  Vote,
} from "../../services/devkit/chain.ts";

// Governance v2 on the real EVM, each path with its attack: the guardian (cancel, the lapsing model brake,
// removal), the super quorum against the timelock, keyed vote nonces and delegation by signature.
// The development deployment makes the first holder the guardian; three holders of a third each, so a
// super quorum of 80% needs all three.
const chain = await createChain({
  configure: (c) => ({ ...c, governor: { ...c.governor, superQuorumPercent: 80 } }),
});
t.teardown(() => chain.close());
const [guardian, bob, carol, stranger] = chain.signers as Signer[];
const governor = chain.contract("governor");
const registry = chain.contract("registry");
const token = chain.contract("token");
const period = BigInt(chain.config.guardianSuspensionPeriod);
let proposals = 0;

const helper = (actions: Action[]) => new GovernanceHelper(chain, actions, `v2 ${++proposals}`);
const pass = (actions: Action[]) => helper(actions).pass();

await pass([policyAction({ modelId: "brake-model" })]);

t.test("the guardian cancels an active proposal; a stranger cannot", async (t) => {
  const malicious = helper([policyAction({ modelId: "malicious" })]);
  await malicious.propose(bob);
  await malicious.waitForSnapshot();
  const id = await malicious.id();
  t.same(await revertOf(malicious.cancel(stranger)), {
    name: "GovernorUnableToCancel",
    args: [id, stranger!.address],
  });
  await malicious.cancel(guardian);
  t.equal(await governor.state(id), ProposalState.Canceled);
});

t.test("the guardian's brake suspends a model at once and lapses after the governed period", async (t) => {
  const receipt = await (
    await chain.contract("registry", guardian).guardianSuspendModel("brake-model", "jailbreak in the wild")
  ).wait();
  const [event] = eventsOf(chain, receipt, "registry");
  const until = BigInt((await receipt.getBlock()).timestamp) + period;
  t.same(event, {
    name: "ModelSuspendedByGuardian",
    args: [
      await registry.modelKey("brake-model"),
      "brake-model",
      guardian!.address,
      1n,
      2n,
      until,
      "jailbreak in the wild",
    ],
  });
  t.equal(await registry.isSuspended("brake-model"), true);
  t.same(await revertOf(chain.contract("registry", guardian).guardianSuspendModel("brake-model", "again")), {
    name: "RegistryAlreadySuspended",
    args: ["brake-model", 2n],
  });
  await chain.increaseTime(Number(until) - (await chain.now()));
  t.equal(await registry.isSuspended("brake-model"), false, "expired: the brake is no longer in force");
  t.equal((await registry.getPolicy("brake-model")).suspendedUntil, until, "the record keeps when it lapsed");
});

t.test("a vote confirms a guardian's suspension: it no longer lapses", async (t) => {
  await (await chain.contract("registry", guardian).guardianSuspendModel("brake-model", "still unsafe")).wait();
  const version: bigint = (await registry.getPolicy("brake-model")).version;
  await pass([{ kind: "SUSPEND_MODEL", modelId: "brake-model", reason: "confirmed by vote" }]);
  await chain.increaseTime(Number(period) + 1);
  const policy = await registry.getPolicy("brake-model");
  t.same([policy.version, policy.suspended, policy.suspendedUntil], [version + 1n, true, 0n]);
  t.equal(await registry.isSuspended("brake-model"), true);
});

t.test("super quorum: succeeds before its deadline, but the timelock still holds execution", async (t) => {
  const urgent = helper([policyAction({ modelId: "brake-model" })]);
  await urgent.propose(bob);
  await urgent.waitForSnapshot();
  const id = await urgent.id();
  for (const voter of [guardian, bob]) await urgent.vote(voter!, Vote.For);
  t.equal(await governor.state(id), ProposalState.Active, "two thirds is below the 80% super quorum");
  await urgent.vote(carol!, Vote.For);
  t.ok((await chain.now()) < Number(await governor.proposalDeadline(id)), "before the deadline");
  t.equal(await governor.state(id), ProposalState.Succeeded);
  await urgent.queue();
  const attempt = await revertOf(urgent.execute());
  t.equal(attempt.name, "TimelockUnexpectedOperationState", "executing before the timelock's delay is refused");
  await urgent.waitForEta();
  await urgent.execute();
  t.equal(await registry.isSuspended("brake-model"), false, "the new policy lifts the suspension");
});

t.test(
  "keyed nonces: ballots for two proposals relay in any order; a replayed ballot no longer verifies",
  async (t) => {
    const first = helper([policyAction({ modelId: "keyed-a" })]);
    const second = helper([policyAction({ modelId: "keyed-b" })]);
    await first.propose(bob);
    await second.propose(bob);
    await second.waitForSnapshot();
    const a = await first.signBallot(carol!, Vote.For, "yes to a");
    const b = await second.signBallot(carol!, Vote.Against);
    // A keyed nonce is the key (the proposal id's low 192 bits) above a 64-bit counter.
    t.equal(a.nonce, proposalNonceKey(a.proposalId) << 64n, "the first ballot for proposal a");
    t.equal(b.nonce, proposalNonceKey(b.proposalId) << 64n, "each proposal has its own nonce");
    const relay = governor.connect(stranger!) as typeof governor;
    await (await relay.castVoteBySig(b.proposalId, b.support, b.voter, b.signature)).wait();
    const relayed = await (
      await relay.castVoteWithReasonAndParamsBySig(a.proposalId, a.support, a.voter, "yes to a", "0x", a.signature)
    ).wait();
    t.same(
      eventsOf(chain, relayed, "governor").map((e) => e.args.slice(4)),
      [["yes to a"]],
      "the reason is kept",
    );
    t.equal(await governor.hasVoted(a.proposalId, carol!.address), true);
    t.equal(await governor.hasVoted(b.proposalId, carol!.address), true);
    t.same(
      await revertOf(
        relay.castVoteWithReasonAndParamsBySig(a.proposalId, a.support, a.voter, "yes to a", "0x", a.signature),
      ),
      { name: "GovernorInvalidSignature", args: [carol!.address] },
    );
  },
);

t.test("delegation by signature works once; its replay is refused", async (t) => {
  const nonce: bigint = await token.nonces(stranger!.address);
  const expiry = BigInt(await chain.now()) + 3_600n;
  const { chainId } = await chain.provider.getNetwork();
  const signature = Signature.from(
    await stranger!.signTypedData(
      { name: await token.name(), version: "1", chainId, verifyingContract: chain.deployment.contracts.token },
      {
        Delegation: [
          { name: "delegatee", type: "address" },
          { name: "nonce", type: "uint256" },
          { name: "expiry", type: "uint256" },
        ],
      },
      { delegatee: bob!.address, nonce, expiry },
    ),
  );
  const relay = token.connect(carol!) as typeof token;
  const args = [bob!.address, nonce, expiry, signature.v, signature.r, signature.s] as const;
  await (await relay.delegateBySig(...args)).wait();
  t.equal(await token.delegates(stranger!.address), bob!.address);
  t.same(await revertOf(relay.delegateBySig(...args)), {
    name: "InvalidAccountNonce",
    args: [stranger!.address, nonce + 1n],
  });
});

/** A proposal by bob, voting open: only the guardian may cancel it now. */
async function openProposal(modelId: string) {
  const victim = helper([policyAction({ modelId })]);
  await victim.propose(bob);
  await victim.waitForSnapshot();
  return victim;
}

/** `former` can neither cancel an open proposal nor brake a model any more. */
async function powersGone(t: Test, former: Signer) {
  const victim = await openProposal(`victim-of-${former.address}`);
  t.same(await revertOf(victim.cancel(former)), {
    name: "GovernorUnableToCancel",
    args: [await victim.id(), former.address],
  });
  t.same(await revertOf(chain.contract("registry", former).guardianSuspendModel("brake-model", "too late")), {
    name: "RegistryNotGuardian",
    args: [former.address],
  });
}

t.test(
  "governance replaces the guardian (SET_GUARDIAN): the former one loses both powers, the new one brakes at once",
  async (t) => {
    const executed = await pass([{ kind: "SET_GUARDIAN", guardian: stranger!.address }]);
    t.same(eventsOf(chain, executed, "governor").find((e) => e.name === "ProposalGuardianSet")?.args, [
      guardian!.address,
      stranger!.address,
    ]);
    await powersGone(t, guardian!);
    await (await chain.contract("registry", stranger).guardianSuspendModel("brake-model", "new council")).wait();
    t.equal(await registry.isSuspended("brake-model"), true);
    const victim = await openProposal("canceled-by-the-new-guardian");
    await victim.cancel(stranger);
    t.equal(await governor.state(await victim.id()), ProposalState.Canceled);
  },
);

t.test("governance sets the suspension period and removes the guardian (typed actions)", async (t) => {
  const executed = await pass([
    { kind: "SET_GUARDIAN_SUSPENSION_PERIOD", period: 7_200 },
    { kind: "SET_GUARDIAN", guardian: "0x0000000000000000000000000000000000000000" },
  ]);
  t.same(eventsOf(chain, executed, "registry").find((e) => e.name === "GuardianSuspensionPeriodSet")?.args, [
    period,
    7_200n,
  ]);
  t.equal(await registry.guardianSuspensionPeriod(), 7_200n);
  t.equal(await governor.proposalGuardian(), "0x0000000000000000000000000000000000000000");
  await powersGone(t, stranger!);
});

t.test("settings stay within bounds: a proposal threshold of zero is refused at execution", async (t) => {
  const zero = helper([{ kind: "UPDATE_GOVERNOR_SETTING", setting: "PROPOSAL_THRESHOLD", value: 0n }]);
  await zero.passAndQueue();
  await zero.waitForEta();
  const supply: bigint = await token.totalSupply();
  t.same(await revertOf(zero.execute()), {
    name: "GovernorSettingOutOfBounds",
    args: ["proposalThreshold", 0n, 1n, supply],
  });
});
