import { AbiCoder, keccak256, toBeHex, zeroPadValue } from "ethers";
import t from "tap";
import {
  createChain,
  eventsOf,
  GovernanceHelper,
  ProposalState,
  policyAction,
  revertOf,
  Vote,
} from "../../services/devkit/chain.ts";

// Unequal holders, so that one vote can miss quorum and another can outweigh it:
// alice 600k, bob 300k, carol 30k; quorum is 4% of 930k = 37.2k.
const tokens = (n: bigint) => n * 10n ** 18n;
const chain = await createChain({
  configure: (c) => ({
    ...c,
    holders: [tokens(600_000n), tokens(300_000n), tokens(30_000n)].map((amount, i) => ({
      address: c.holders[i]!.address,
      amount,
    })),
  }),
});
t.teardown(() => chain.close());
const [alice, bob, carol] = chain.signers;
const governor = chain.contract("governor");
const timelock = chain.contract("timelock");

let proposals = 0;
/** A fresh proposal on the shared chain (distinct description, so a distinct id). */
function proposal() {
  proposals += 1;
  return new GovernanceHelper(chain, [policyAction({ modelId: `outcome-${proposals}` })], `Outcome ${proposals}`);
}

/** Governor's and timelock's expected-state arguments: a bitmap with one bit per accepted state. */
function stateBitmap(...states: bigint[]): string {
  return zeroPadValue(toBeHex(states.reduce((bits, s) => bits | (1n << s), 0n)), 32);
}

async function setNextTimestamp(timestamp: bigint | number) {
  await chain.provider.send("evm_setNextBlockTimestamp", [Number(timestamp)]);
}

t.test("a proposal that misses quorum is defeated and cannot be queued", async (t) => {
  const helper = proposal();
  await helper.propose();
  await helper.waitForSnapshot();
  await helper.vote(carol!, Vote.For);
  await helper.waitForDeadline();
  const id = await helper.id();
  t.ok((await governor.quorum(await governor.proposalSnapshot(id))) > tokens(30_000n), "carol alone is below quorum");
  t.equal(await governor.state(id), ProposalState.Defeated);
  t.same(await revertOf(helper.queue()), {
    name: "GovernorUnexpectedProposalState",
    args: [id, ProposalState.Defeated, stateBitmap(ProposalState.Succeeded)],
  });
});

t.test("a proposal with more against than for is defeated despite quorum", async (t) => {
  const helper = proposal();
  await helper.propose();
  await helper.waitForSnapshot();
  await helper.vote(alice!, Vote.Against);
  await helper.vote(bob!, Vote.For);
  await helper.vote(carol!, Vote.For);
  await helper.waitForDeadline();
  t.equal(await governor.state(await helper.id()), ProposalState.Defeated);
});

t.test("abstentions count toward quorum but not toward the outcome", async (t) => {
  const helper = proposal();
  await helper.propose();
  await helper.waitForSnapshot();
  await helper.vote(bob!, Vote.Abstain);
  await helper.vote(carol!, Vote.For);
  await helper.waitForDeadline();
  t.equal(await governor.state(await helper.id()), ProposalState.Succeeded);
});

t.test(
  "the proposer can cancel while pending; nobody else but the guardian can, and a canceled proposal takes no votes",
  async (t) => {
    const helper = proposal();
    await helper.propose(bob);
    const id = await helper.id();
    // Carol, not alice: alice is the development guardian, who may cancel any proposal (governance-v2.test.ts).
    t.same(await revertOf(helper.cancel(carol)), { name: "GovernorUnableToCancel", args: [id, carol!.address] });
    const canceled = await helper.cancel(bob);
    t.same(eventsOf(chain, canceled, "governor"), [{ name: "ProposalCanceled", args: [id] }]);
    t.equal(await governor.state(id), ProposalState.Canceled);
    await helper.waitForSnapshot();
    t.same(await revertOf(helper.vote(alice!, Vote.For)), {
      name: "GovernorUnexpectedProposalState",
      args: [id, ProposalState.Canceled, stateBitmap(ProposalState.Active)],
    });
  },
);

t.test("once voting has started, not even the proposer can cancel", async (t) => {
  const helper = proposal();
  await helper.propose(bob);
  await helper.waitForSnapshot();
  t.same(await revertOf(helper.cancel(bob)), {
    name: "GovernorUnableToCancel",
    args: [await helper.id(), bob!.address],
  });
});

t.test("quorum reached close to the deadline extends it, giving the other side time to answer", async (t) => {
  const helper = proposal();
  await helper.propose();
  const id = await helper.id();
  const deadline: bigint = await governor.proposalDeadline(id);
  await helper.waitForSnapshot();
  await helper.vote(carol!, Vote.For);

  const lateVoteAt = deadline - 10n;
  await setNextTimestamp(lateVoteAt);
  const late = await helper.vote(bob!, Vote.For);
  const extended = lateVoteAt + BigInt(chain.config.governor.lateQuorumExtension);
  t.same(
    eventsOf(chain, late, "governor").map((e) => e.name),
    ["VoteCast", "ProposalExtended"],
  );
  t.same(eventsOf(chain, late, "governor")[1]?.args, [id, extended]);
  t.equal(await governor.proposalDeadline(id), extended);

  await setNextTimestamp(deadline + 1n);
  await helper.vote(alice!, Vote.Against);
  t.equal(await governor.state(id), ProposalState.Active, "still open after the original deadline");
  await helper.waitForDeadline();
  t.equal(await governor.state(id), ProposalState.Defeated, "the answer made in the extension counted");
});

t.test("quorum reached early does not move the deadline", async (t) => {
  const helper = proposal();
  await helper.propose();
  const id = await helper.id();
  const deadline: bigint = await governor.proposalDeadline(id);
  await helper.waitForSnapshot();
  const vote = await helper.vote(bob!, Vote.For);
  t.same(
    eventsOf(chain, vote, "governor").map((e) => e.name),
    ["VoteCast"],
  );
  t.equal(await governor.proposalDeadline(id), deadline);
});

t.test("execution before the timelock delay is refused by the timelock, and allowed from the eta", async (t) => {
  const helper = proposal();
  await helper.passAndQueue();
  const id = await helper.id();
  const eta: bigint = await governor.proposalEta(id);
  // GovernorTimelockControl's salt ties the operation to this governor: bytes20(governor) ^ descriptionHash.
  const salt = zeroPadValue(
    toBeHex((BigInt(chain.deployment.contracts.governor) << 96n) ^ BigInt(helper.descriptionHash)),
    32,
  );
  const operationId = await timelock.hashOperationBatch(
    helper.targets,
    helper.values,
    helper.calldatas,
    `0x${"00".repeat(32)}`,
    salt,
  );
  t.equal(
    operationId,
    keccak256(
      AbiCoder.defaultAbiCoder().encode(
        ["address[]", "uint256[]", "bytes[]", "bytes32", "bytes32"],
        [helper.targets, helper.values, helper.calldatas, `0x${"00".repeat(32)}`, salt],
      ),
    ),
  );
  t.ok(await timelock.isOperationPending(operationId));

  const ready = stateBitmap(2n); // TimelockController.OperationState.Ready
  // The next block's timestamp is what the execution (and its gas estimate) sees.
  await setNextTimestamp(eta - 1n);
  t.same(await revertOf(helper.execute()), { name: "TimelockUnexpectedOperationState", args: [operationId, ready] });
  await setNextTimestamp(eta);
  t.equal(await governor.state(id), ProposalState.Queued);
  const executed = await helper.execute();
  t.same(eventsOf(chain, executed, "governor"), [{ name: "ProposalExecuted", args: [id] }]);
  t.ok(await timelock.isOperationDone(operationId));
});

t.test("an executed proposal cannot be executed or queued again", async (t) => {
  const helper = proposal();
  await helper.pass([alice!]);
  const id = await helper.id();
  t.equal(await governor.state(id), ProposalState.Executed);
  t.same(await revertOf(helper.execute()), {
    name: "GovernorUnexpectedProposalState",
    // With a timelock, only a queued proposal may be executed.
    args: [id, ProposalState.Executed, stateBitmap(ProposalState.Queued)],
  });
  t.same(await revertOf(helper.queue()), {
    name: "GovernorUnexpectedProposalState",
    args: [id, ProposalState.Executed, stateBitmap(ProposalState.Succeeded)],
  });
});
