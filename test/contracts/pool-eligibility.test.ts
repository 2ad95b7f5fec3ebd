import { type Contract, parseUnits } from "ethers";
import t from "tap";
import {
  createChain,
  eventsOf,
  GovernanceHelper,
  impersonate,
  revertOf,
  type Signer,
} from "../../services/devkit/chain.ts";

// One-hour epochs and a minimum of 100 tokens, set at deployment; three holders of 1M each.
const EPOCH = 3_600;
const MIN = parseUnits("100", 18);
const chain = await createChain({
  configure: (c) => ({ ...c, pool: { ...c.pool, epochLength: EPOCH }, poolMinVotes: MIN }),
});
t.teardown(() => chain.close());
const [alice, bob, carol, newcomer, other] = chain.signers as Signer[];
const allocator = chain.contract("allocator");

function token(runner: Signer): Contract {
  return chain.contract("token", runner);
}

/** Moves the chain's clock to `seconds` past the start of the next epoch, and returns that start. */
async function nextEpoch(seconds = 10): Promise<number> {
  const now = await chain.now();
  const start = now - (now % EPOCH) + EPOCH;
  await chain.increaseTime(start + seconds - now);
  return start;
}

t.test("the deployment's minimum is in force and was announced", async (t) => {
  t.equal(await allocator.poolMinVotes(), MIN);
  t.equal(await allocator.VOTES_TOKEN(), chain.deployment.contracts.token);
  const deployed = await allocator.queryFilter(allocator.filters.PoolEligibilitySet!());
  t.same(
    deployed.map((e) => ("args" in e ? e.args.toArray() : [])),
    [[0n, MIN]],
  );
});

t.test("voting power counts at the epoch's start: tokens that arrive later count from the next epoch", async (t) => {
  await nextEpoch();
  t.equal(await allocator.isPoolEligible(alice!.address, await chain.now()), true, "a holder since deployment");
  t.equal(await allocator.isPoolEligible(newcomer!.address, await chain.now()), false, "no tokens: no pool");

  await (await token(alice!).transfer(newcomer!.address, MIN)).wait();
  await (await token(newcomer!).delegate(newcomer!.address)).wait();
  t.equal(await token(newcomer!).getVotes(newcomer!.address), MIN, "the newcomer holds the minimum now");
  t.equal(await allocator.isPoolEligible(newcomer!.address, await chain.now()), false, "but not at this epoch's start");

  await nextEpoch();
  t.equal(await allocator.isPoolEligible(newcomer!.address, await chain.now()), true, "from the next epoch it does");
});

t.test("the same tokens make one wallet eligible per epoch, however often they move", async (t) => {
  const start = await nextEpoch();
  // The newcomer passes its stake on during the epoch: it stays eligible (the snapshot), the receiver is not.
  await (await token(newcomer!).transfer(other!.address, MIN)).wait();
  await (await token(other!).delegate(other!.address)).wait();
  const now = await chain.now();
  t.equal(await allocator.isPoolEligible(newcomer!.address, now), true);
  t.equal(await allocator.isPoolEligible(other!.address, now), false);
  t.equal(await token(other!).getPastVotes(other!.address, start), 0n);

  await nextEpoch();
  const later = await chain.now();
  t.equal(await allocator.isPoolEligible(newcomer!.address, later), false, "next epoch: the sender no longer is");
  t.equal(await allocator.isPoolEligible(other!.address, later), true, "and the receiver is");
});

t.test("delegating counts like holding: a delegate gets its delegators' votes at the epoch's start", async (t) => {
  await (await token(other!).delegate(newcomer!.address)).wait();
  await nextEpoch();
  const now = await chain.now();
  t.equal(await allocator.isPoolEligible(newcomer!.address, now), true, "the delegate holds the votes");
  t.equal(await allocator.isPoolEligible(other!.address, now), false, "the holder that delegated them away does not");
});

t.test("governance changes the minimum: the event carries the old and the new value", async (t) => {
  const raised = MIN * 2n;
  const helper = new GovernanceHelper(chain, [{ kind: "SET_POOL_ELIGIBILITY", minVotes: raised }]);
  const receipt = await helper.pass([alice!, bob!, carol!]);
  t.same(eventsOf(chain, receipt, "allocator"), [{ name: "PoolEligibilitySet", args: [MIN, raised] }]);
  t.equal(await allocator.poolMinVotes(), raised);
  await nextEpoch();
  t.equal(await allocator.isPoolEligible(newcomer!.address, await chain.now()), false, "100 tokens are not enough");

  const open = new GovernanceHelper(chain, [{ kind: "SET_POOL_ELIGIBILITY", minVotes: 0n }]);
  t.same(eventsOf(chain, await open.pass([alice!, bob!, carol!]), "allocator"), [
    { name: "PoolEligibilitySet", args: [raised, 0n] },
  ]);
  t.equal(await allocator.isPoolEligible(newcomer!.address, await chain.now()), true, "0 opens the pool to anyone");
});

t.test("an epoch whose start is not yet in the token's past cannot be judged with a minimum", async (t) => {
  const timelock = await impersonate(chain, chain.deployment.contracts.timelock);
  await (await chain.contract("allocator", timelock).setPoolEligibility(MIN)).wait();
  const future = (await chain.now()) + EPOCH;
  t.same(
    (await revertOf(allocator.isPoolEligible(alice!.address, future))).name,
    "ERC5805FutureLookup",
    "the token refuses to answer for a time that has not come",
  );
});
