import { type Contract, id, type TransactionReceipt, Wallet, ZeroAddress, ZeroHash } from "ethers";
import t from "tap";
import { encodeAction } from "../../services/chain/actions.ts";
import { contractInterface } from "../../services/chain/artifacts.ts";
import { proposalNonceKey } from "../../services/chain/contracts.ts";
import {
  createChain,
  eventsOf,
  GovernanceHelper,
  impersonate,
  ProposalState,
  policyAction,
  revertOf,
  type Signer,
  Vote,
} from "../../services/devkit/chain.ts";

// Five holders of 1M each; a long voting delay leaves room to act between proposing and the snapshot.
const chain = await createChain({
  holders: 5,
  configure: (c) => ({ ...c, governor: { ...c.governor, votingDelay: 100 } }),
});
t.teardown(() => chain.close());
const [alice, bob, carol, dan, erin, mallory, eve, relayer] = chain.signers as Signer[];
const governor = chain.contract("governor");
const perHolder = chain.config.holders[0]!.amount;
const { contracts } = chain.deployment;

let proposals = 0;
function proposal() {
  proposals += 1;
  return new GovernanceHelper(chain, [policyAction({ modelId: `attack-${proposals}` })], `Attack ${proposals}`);
}

function token(runner: Signer): Contract {
  return chain.contract("token", runner);
}

/** The weight the governor recorded for the single VoteCast of `receipt`. */
function castWeight(receipt: TransactionReceipt | null): unknown {
  const [vote] = eventsOf(chain, receipt, "governor");
  return vote?.name === "VoteCast" ? vote.args[3] : undefined;
}

t.test("voting power bought or delegated after the snapshot does not count (flash-loan vote)", async (t) => {
  const helper = proposal();
  await helper.propose(alice);
  const proposalId = await helper.id();
  await helper.waitForSnapshot();

  // Mallory borrows alice's tokens and gets carol's delegation, after the snapshot.
  await (await token(alice).transfer(mallory.address, perHolder)).wait();
  await (await token(mallory).delegate(mallory.address)).wait();
  await (await token(carol).delegate(mallory.address)).wait();
  t.equal(await token(mallory).getVotes(mallory.address), 2n * perHolder, "mallory holds the power now");

  t.equal(castWeight(await helper.vote(mallory, Vote.For)), 0n, "but votes with her snapshot weight: none");
  t.equal(castWeight(await helper.vote(alice, Vote.Against)), perHolder, "alice keeps her snapshot weight");
  t.equal(castWeight(await helper.vote(carol, Vote.Against)), perHolder, "so does carol");
  t.same((await governor.proposalVotes(proposalId)).toArray(), [2n * perHolder, 0n, 0n]);
  t.same(await revertOf(helper.vote(mallory, Vote.For)), { name: "GovernorAlreadyCastVote", args: [mallory.address] });

  // Repaying the loan changes nothing either.
  await (await token(mallory).transfer(alice.address, perHolder)).wait();
  t.same((await governor.proposalVotes(proposalId)).toArray(), [2n * perHolder, 0n, 0n]);
});

t.test("voting power received before the snapshot counts, and leaves the sender", async (t) => {
  const helper = proposal();
  await helper.propose(bob);
  await (await token(bob).transfer(eve.address, perHolder)).wait();
  await (await token(eve).delegate(eve.address)).wait();
  await helper.waitForSnapshot();
  t.equal(castWeight(await helper.vote(eve, Vote.For)), perHolder);
  t.equal(castWeight(await helper.vote(bob, Vote.For)), 0n);
});

t.test("EIP-712 ballots: a relayed signature votes with the signer's weight, once", async (t) => {
  const helper = proposal();
  await helper.propose(erin);
  const proposalId = await helper.id();
  await helper.waitForSnapshot();
  const ballot = await helper.signBallot(erin, Vote.For);
  const key = proposalNonceKey(proposalId);
  t.equal(ballot.nonce, key << 64n, "the first nonce keyed by this proposal");

  const relayed = governor.connect(relayer).getFunction("castVoteBySig");
  const receipt = await (await relayed(proposalId, Vote.For, erin.address, ballot.signature)).wait();
  t.equal(receipt.from, relayer.address, "the relayer paid");
  t.same(eventsOf(chain, receipt, "governor"), [
    { name: "VoteCast", args: [erin.address, proposalId, BigInt(Vote.For), perHolder, ""] },
  ]);
  t.equal(await governor.getFunction("nonces(address,uint192)")(erin.address, key), (key << 64n) + 1n);

  t.same(
    await revertOf(relayed(proposalId, Vote.For, erin.address, ballot.signature)),
    {
      name: "GovernorInvalidSignature",
      args: [erin.address],
    },
    "a replay is refused: the nonce was used",
  );
});

t.test("EIP-712 ballots: forged, altered, misdirected or foreign signatures are refused", async (t) => {
  const helper = proposal();
  await helper.propose(dan);
  const proposalId = await helper.id();
  const other = proposal();
  await other.propose(dan);
  await helper.waitForSnapshot();
  const relayed = governor.connect(relayer).getFunction("castVoteBySig");
  const refused = { name: "GovernorInvalidSignature", args: [dan.address] };
  const { chainId } = await chain.provider.getNetwork();
  const domain = {
    name: await governor.name(),
    version: await governor.version(),
    chainId,
    verifyingContract: contracts.governor,
  };
  const types = {
    Ballot: [
      { name: "proposalId", type: "uint256" },
      { name: "support", type: "uint8" },
      { name: "voter", type: "address" },
      { name: "nonce", type: "uint256" },
    ],
  };
  const ballot = { proposalId, support: Vote.For, voter: dan.address, nonce: 0n };

  const forged = await Wallet.createRandom().signTypedData(domain, types, ballot);
  t.same(await revertOf(relayed(proposalId, Vote.For, dan.address, forged)), refused, "signed by someone else");

  const genuine = await dan.signTypedData(domain, types, { ...ballot, support: Vote.Against });
  t.same(await revertOf(relayed(proposalId, Vote.For, dan.address, genuine)), refused, "support altered");
  t.same(await revertOf(relayed(await other.id(), Vote.Against, dan.address, genuine)), refused, "other proposal");
  t.same(
    await revertOf(relayed(proposalId, Vote.Against, carol.address, genuine)),
    { name: "GovernorInvalidSignature", args: [carol.address] },
    "claimed for another voter",
  );
  const foreignDomain = await dan.signTypedData({ ...domain, verifyingContract: contracts.registry }, types, ballot);
  t.same(
    await revertOf(relayed(proposalId, Vote.For, dan.address, foreignDomain)),
    refused,
    "another contract's domain",
  );
  const otherChain = await dan.signTypedData({ ...domain, chainId: 1n }, types, ballot);
  t.same(await revertOf(relayed(proposalId, Vote.For, dan.address, otherChain)), refused, "another chain");
  t.same(await revertOf(relayed(proposalId, Vote.For, dan.address, "0x1234")), refused, "not a signature");

  t.equal(await governor.getFunction("nonces(address)")(dan.address), 0n, "refused attempts burn no nonce");
  const receipt = await (await relayed(proposalId, Vote.Against, dan.address, genuine)).wait();
  t.equal(castWeight(receipt), perHolder, "the genuine ballot still counts");
});

t.test("nobody but the timelock writes the registry or the allocator", async (t) => {
  const governorAsSender = await impersonate(chain, contracts.governor);
  const writes = [
    policyAction({ modelId: "takeover" }),
    { kind: "SUSPEND_MODEL", modelId: "takeover", reason: "mine" } as const,
    {
      kind: "GRANT_ALLOCATION",
      grantee: mallory.address,
      modelId: "",
      tokensPerEpoch: 10n ** 9n,
      start: 0,
      end: 2 ** 40,
    } as const,
    { kind: "REVOKE_ALLOCATION", grantId: 1n } as const,
    {
      kind: "SET_COMMUNITY_POOL",
      allowancePerAddress: 10n ** 9n,
      poolSizePerEpoch: 10n ** 9n,
      epochLength: 1,
    } as const,
    { kind: "SET_POOL_ELIGIBILITY", minVotes: 0n } as const,
  ];
  for (const caller of [alice, mallory, governorAsSender]) {
    for (const action of writes) {
      const call = encodeAction(contracts, action);
      t.same(
        await revertOf(caller.sendTransaction({ to: call.target, data: call.calldata })),
        { name: "OwnableUnauthorizedAccount", args: [caller.address] },
        `${action.kind} from ${caller.address}`,
      );
    }
  }
  t.equal(await chain.contract("registry").owner(), contracts.timelock);
  t.equal(await chain.contract("allocator").owner(), contracts.timelock);
});

t.test("a passed proposal cannot leave the registry or the allocator without an owner", async (t) => {
  const refusals = { registry: "RegistryOwnershipNotRenounceable", allocator: "AllocatorOwnershipNotRenounceable" };
  for (const role of ["registry", "allocator"] as const) {
    // No typed action encodes it (test/chain/actions.test.ts), so the proposal carries the raw call.
    const renounce = contractInterface(role).encodeFunctionData("renounceOwnership");
    const helper = new GovernanceHelper(
      chain,
      [{ kind: "UNKNOWN", target: contracts[role], calldata: renounce }],
      `Renounce the ${role}'s ownership`,
    );
    await helper.passAndQueue([alice, bob, carol]);
    await helper.waitForEta();
    t.same(
      await revertOf(helper.execute()),
      { name: refusals[role], args: [] },
      `the vote passed, and its execution fails on the ${role}`,
    );
    t.equal(await governor.state(await helper.id()), ProposalState.Queued, "the proposal stays queued, not executed");
    t.equal(await chain.contract(role).owner(), contracts.timelock, `the timelock still owns the ${role}`);
  }
});

t.test("governor settings change only through governance", async (t) => {
  const gov = governor.connect(mallory) as Contract;
  const refused = { name: "GovernorOnlyExecutor", args: [mallory.address] };
  t.same(await revertOf(gov.getFunction("setVotingDelay")(0)), refused);
  t.same(await revertOf(gov.getFunction("setVotingPeriod")(1)), refused);
  t.same(await revertOf(gov.getFunction("setProposalThreshold")(0)), refused);
  t.same(await revertOf(gov.getFunction("updateQuorumNumerator")(0)), refused);
  t.same(await revertOf(gov.getFunction("setLateQuorumVoteExtension")(0)), refused);
  t.same(await revertOf(gov.getFunction("updateTimelock")(mallory.address)), refused);
  const drain = contractInterface("token").encodeFunctionData("transfer", [mallory.address, 1n]);
  t.same(await revertOf(gov.getFunction("relay")(contracts.token, 0, drain)), refused);
});

t.test("after deployment the timelock administers itself and the deployer holds no role", async (t) => {
  const timelock = chain.contract("timelock");
  const deployer = alice.address;
  const roles = {
    DEFAULT_ADMIN_ROLE: ZeroHash,
    PROPOSER_ROLE: id("PROPOSER_ROLE"),
    CANCELLER_ROLE: id("CANCELLER_ROLE"),
    EXECUTOR_ROLE: id("EXECUTOR_ROLE"),
  };
  // Replay every role event of the timelock's life: who holds what now.
  const holders = new Map<string, Set<string>>();
  const logs = await chain.provider.getLogs({ address: contracts.timelock, fromBlock: 0 });
  for (const log of logs) {
    const parsed = timelock.interface.parseLog(log);
    if (parsed?.name !== "RoleGranted" && parsed?.name !== "RoleRevoked") continue;
    const [role, account] = parsed.args as unknown as [string, string];
    const set = holders.get(role) ?? new Set<string>();
    if (parsed.name === "RoleGranted") set.add(account);
    else set.delete(account);
    holders.set(role, set);
  }
  t.same(Object.fromEntries(Object.entries(roles).map(([name, role]) => [name, [...(holders.get(role) ?? [])]])), {
    DEFAULT_ADMIN_ROLE: [contracts.timelock],
    PROPOSER_ROLE: [contracts.governor],
    CANCELLER_ROLE: [contracts.governor],
    EXECUTOR_ROLE: [ZeroAddress],
  });
  for (const role of Object.values(roles)) t.equal(await timelock.hasRole(role, deployer), false);

  const asDeployer = timelock.connect(alice) as Contract;
  t.same(await revertOf(asDeployer.getFunction("grantRole")(roles.PROPOSER_ROLE, deployer)), {
    name: "AccessControlUnauthorizedAccount",
    args: [deployer, roles.DEFAULT_ADMIN_ROLE],
  });
  const call = encodeAction(contracts, policyAction({ modelId: "bypass" }));
  t.same(await revertOf(asDeployer.getFunction("schedule")(call.target, 0, call.calldata, ZeroHash, ZeroHash, 60)), {
    name: "AccessControlUnauthorizedAccount",
    args: [deployer, roles.PROPOSER_ROLE],
  });
  t.same(await revertOf(asDeployer.getFunction("updateDelay")(0)), {
    name: "TimelockUnauthorizedCaller",
    args: [deployer],
  });
  const readyOnly = `0x${"00".repeat(31)}04`; // expected-state bitmap: OperationState.Ready (bit 2)
  t.same(
    await revertOf(asDeployer.getFunction("execute")(call.target, 0, call.calldata, ZeroHash, ZeroHash)),
    {
      name: "TimelockUnexpectedOperationState",
      args: [await timelock.hashOperation(call.target, 0, call.calldata, ZeroHash, ZeroHash), readyOnly],
    },
    "an operation nobody scheduled cannot be executed",
  );
});
