import type { Log } from "ethers";
import t from "tap";
import { type Action, policyRulesToAbi } from "../../services/chain/actions.ts";
import {
  createChain,
  eventsOf,
  GovernanceHelper,
  ProposalState,
  policyAction,
  policyRules,
  rulesHash,
  Vote,
} from "../../services/devkit/chain.ts";

// One chain for the file: each test enacts one proposal on top of the state the previous ones left.
const chain = await createChain();
t.teardown(() => chain.close());
const [alice, bob, carol, dave] = chain.signers;
const registry = chain.contract("registry");
const allocator = chain.contract("allocator");
const governor = chain.contract("governor");
const supplyPerHolder = chain.config.holders[0]!.amount;

/** Passes `actions` through the whole lifecycle and returns the execute receipt. */
function enact(...actions: Action[]) {
  return new GovernanceHelper(chain, actions).pass();
}

t.test("a proposal goes Pending, Active, Succeeded, Queued, Executed, with an event at each step", async (t) => {
  const action = policyAction({ modelId: "lifecycle" });
  const helper = new GovernanceHelper(chain, [action], "Approve lifecycle");
  const proposalId = await helper.id();

  const proposed = await helper.propose(alice);
  const snapshot: bigint = await governor.proposalSnapshot(proposalId);
  const deadline: bigint = await governor.proposalDeadline(proposalId);
  const proposedAt = BigInt((await proposed!.getBlock()).timestamp);
  t.equal(snapshot, proposedAt + BigInt(chain.config.governor.votingDelay), "snapshot is a timestamp: now + delay");
  t.equal(deadline, snapshot + BigInt(chain.config.governor.votingPeriod));
  t.same(eventsOf(chain, proposed, "governor"), [
    {
      name: "ProposalCreated",
      args: [
        proposalId,
        alice!.address,
        helper.targets,
        helper.values,
        [""],
        helper.calldatas,
        snapshot,
        deadline,
        "Approve lifecycle",
      ],
    },
  ]);
  t.equal(await governor.state(proposalId), ProposalState.Pending);

  await helper.waitForSnapshot();
  t.equal(await governor.state(proposalId), ProposalState.Active);
  t.same(eventsOf(chain, await helper.vote(alice!, Vote.For), "governor"), [
    { name: "VoteCast", args: [alice!.address, proposalId, BigInt(Vote.For), supplyPerHolder, ""] },
  ]);
  t.same(eventsOf(chain, await helper.vote(bob!, Vote.For, "guidelines are sound"), "governor"), [
    { name: "VoteCast", args: [bob!.address, proposalId, BigInt(Vote.For), supplyPerHolder, "guidelines are sound"] },
  ]);
  await helper.vote(carol!, Vote.Abstain);
  t.same((await governor.proposalVotes(proposalId)).toArray(), [0n, 2n * supplyPerHolder, supplyPerHolder]);
  t.ok(await governor.hasVoted(proposalId, carol!.address));

  await helper.waitForDeadline();
  t.equal(await governor.state(proposalId), ProposalState.Succeeded);

  const queued = await helper.queue();
  const eta = BigInt((await queued!.getBlock()).timestamp) + BigInt(chain.config.timelockDelay);
  t.same(eventsOf(chain, queued, "governor"), [{ name: "ProposalQueued", args: [proposalId, eta] }]);
  t.equal(await governor.proposalEta(proposalId), eta);
  t.same(
    eventsOf(chain, queued, "timelock").map((e) => e.name),
    ["CallScheduled", "CallSalt"],
    "the timelock scheduled the call",
  );
  t.equal(await governor.state(proposalId), ProposalState.Queued);

  await helper.waitForEta();
  const executed = await helper.execute(dave);
  t.same(eventsOf(chain, executed, "governor"), [{ name: "ProposalExecuted", args: [proposalId] }]);
  t.same(
    eventsOf(chain, executed, "timelock").map((e) => e.name),
    ["CallExecuted"],
  );
  t.same(
    eventsOf(chain, executed, "registry").map((e) => e.name),
    ["PolicySet"],
  );
  t.equal(await governor.state(proposalId), ProposalState.Executed);
});

t.test("SET_MODEL_POLICY: a new model gets version 1 and its rules", async (t) => {
  const action = policyAction({
    modelId: "llama-3-8b",
    allowedPurposes: ["research"],
    blockedTerms: ["x", "y"],
  });
  const executed = await enact(action);
  const key = await registry.modelKey("llama-3-8b");
  t.same(eventsOf(chain, executed, "registry"), [
    { name: "PolicySet", args: [key, "llama-3-8b", 0n, 1n, policyRules(action)] },
  ]);
  t.same((await registry.getPolicy("llama-3-8b")).toArray(true), [1n, false, 0n, rulesHash(action)]);
  t.equal(
    await registry.matchesRules("llama-3-8b", policyRulesToAbi(action)),
    true,
    "the event's rules match the hash",
  );
});

t.test("SUSPEND_MODEL: the version goes up, the rules stay, the model is suspended", async (t) => {
  const before = (await registry.getPolicy("llama-3-8b")).toArray(true);
  const executed = await enact({ kind: "SUSPEND_MODEL", modelId: "llama-3-8b", reason: "leaks training data" });
  t.same(eventsOf(chain, executed, "registry"), [
    {
      name: "ModelSuspended",
      args: [await registry.modelKey("llama-3-8b"), "llama-3-8b", 1n, 2n, "leaks training data"],
    },
  ]);
  t.same((await registry.getPolicy("llama-3-8b")).toArray(true), [2n, true, 0n, before[3]]);
});

t.test("SET_MODEL_POLICY on a suspended model replaces its rules and lifts the suspension", async (t) => {
  const action = policyAction({
    modelId: "llama-3-8b",
    maxTokensPerRequest: 256,
    requestsPerMinute: 10,
  });
  const executed = await enact(action);
  t.same(eventsOf(chain, executed, "registry"), [
    { name: "PolicySet", args: [await registry.modelKey("llama-3-8b"), "llama-3-8b", 2n, 3n, policyRules(action)] },
  ]);
  t.same((await registry.getPolicy("llama-3-8b")).toArray(true), [3n, false, 0n, rulesHash(action)]);
});

t.test("GRANT_ALLOCATION: the grant is stored, active from start, and gets the next id", async (t) => {
  const start = (await chain.now()) + 600;
  const end = start + 30 * 86_400;
  const grantId: bigint = await allocator.nextGrantId();
  t.equal(grantId, 1n, "grant ids start at 1");
  const executed = await enact({
    kind: "GRANT_ALLOCATION",
    grantee: dave!.address,
    modelId: "llama-3-8b",
    tokensPerEpoch: 50_000n,
    start,
    end,
  });
  t.same(eventsOf(chain, executed, "allocator"), [
    { name: "GrantCreated", args: [grantId, dave!.address, "llama-3-8b", 50_000n, BigInt(start), BigInt(end)] },
  ]);
  t.same((await allocator.getGrant(grantId)).toArray(true), [
    dave!.address,
    BigInt(start),
    BigInt(end),
    false,
    50_000n,
    await allocator.modelScopeOf("llama-3-8b"),
  ]);
  t.equal(await allocator.nextGrantId(), grantId + 1n);
  t.equal(await allocator.isGrantActive(grantId, start), true);
  t.equal(await allocator.isGrantActive(grantId, end), false);
});

t.test("REVOKE_ALLOCATION: the grant is marked revoked and gives nothing", async (t) => {
  const executed = await enact({ kind: "REVOKE_ALLOCATION", grantId: 1n });
  t.same(eventsOf(chain, executed, "allocator"), [{ name: "GrantRevoked", args: [1n, dave!.address] }]);
  const grant = await allocator.getGrant(1n);
  t.equal(grant.revoked, true);
  t.equal(await allocator.isGrantActive(1n, grant.start), false);
});

t.test("SET_COMMUNITY_POOL: the pool is replaced and the event carries old and new", async (t) => {
  const old = chain.config.pool;
  const executed = await enact({
    kind: "SET_COMMUNITY_POOL",
    allowancePerAddress: 5_000n,
    poolSizePerEpoch: 2_000_000n,
    epochLength: 3_600,
  });
  t.same(eventsOf(chain, executed, "allocator"), [
    {
      name: "CommunityPoolSet",
      args: [
        [old.allowancePerAddress, old.poolSizePerEpoch, BigInt(old.epochLength)],
        [5_000n, 2_000_000n, 3_600n],
      ],
    },
  ]);
  t.same((await allocator.communityPool()).toArray(true), [5_000n, 2_000_000n, 3_600n]);
  const now = BigInt(await chain.now());
  t.equal(await allocator.epochStart(now), now - (now % 3_600n), "epochs follow the new length");
});

t.test("a proposal with several actions executes them in order, across contracts", async (t) => {
  const policy = policyAction({ modelId: "mistral-7b" });
  const grantId: bigint = await allocator.nextGrantId();
  const start = await chain.now();
  const executed = await enact(
    policy,
    {
      kind: "GRANT_ALLOCATION",
      grantee: carol!.address,
      modelId: "mistral-7b",
      tokensPerEpoch: 1n,
      start,
      end: start + 1,
    },
    { kind: "SUSPEND_MODEL", modelId: "mistral-7b", reason: "pending review" },
  );
  const logs = executed!.logs.filter((l: Log) => l.address !== chain.deployment.contracts.timelock);
  t.same(
    logs.map((l: Log) => l.address),
    [
      chain.deployment.contracts.registry,
      chain.deployment.contracts.allocator,
      chain.deployment.contracts.registry,
      chain.deployment.contracts.governor,
    ],
  );
  t.same(
    eventsOf(chain, executed, "registry").map((e) => [e.name, e.args[3]]),
    [
      ["PolicySet", 1n],
      ["ModelSuspended", 2n],
    ],
  );
  t.equal((await allocator.getGrant(grantId)).grantee, carol!.address);
});
