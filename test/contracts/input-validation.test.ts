import { ContractFactory, ZeroAddress } from "ethers";
import t from "tap";
import { encodeAction, policyRulesToAbi } from "../../services/chain/actions.ts";
import { contractInterface, loadArtifact } from "../../services/chain/artifacts.ts";
import {
  createChain,
  type Decoded,
  eventsOf,
  impersonate,
  policyAction,
  revertOf,
} from "../../services/devkit/chain.ts";
import { badActions } from "../chain/bad-actions.ts";

// The owner-only functions are called directly by the (impersonated) timelock: what is checked here is
// the contracts' own validation, not governance, which test/contracts/lifecycle.test.ts covers.
const chain = await createChain();
t.teardown(() => chain.close());
const timelock = await impersonate(chain, chain.deployment.contracts.timelock);
const registry = chain.contract("registry", timelock);
const allocator = chain.contract("allocator", timelock);
const zeroHash = `0x${"00".repeat(32)}`;

/** Every error name seen here, to prove at the end that each custom error of both contracts is reachable. */
const seen = new Set<string>();
async function reverted(pending: Promise<unknown>): Promise<Decoded> {
  const error = await revertOf(pending);
  seen.add(error.name);
  return error;
}

for (const bad of badActions) {
  t.test(`the contract refuses a ${bad.title} with ${bad.error.name}`, async (t) => {
    const call = encodeAction(chain.deployment.contracts, bad.action);
    t.same(await reverted(timelock.sendTransaction({ to: call.target, data: call.calldata })), bad.error);
  });
}

t.test("suspending a model that never had a policy is refused", async (t) => {
  t.same(await reverted(registry.suspendModel("no-such-model", "unsafe")), {
    name: "RegistryUnknownModel",
    args: ["no-such-model"],
  });
});

t.test("suspending a suspended model is refused, naming the version", async (t) => {
  const call = encodeAction(chain.deployment.contracts, policyAction({ modelId: "twice" }));
  await (await timelock.sendTransaction({ to: call.target, data: call.calldata })).wait();
  await (await registry.suspendModel("twice", "first")).wait();
  t.same(await reverted(registry.suspendModel("twice", "second")), {
    name: "RegistryAlreadySuspended",
    args: ["twice", 2n],
  });
});

t.test("an unapproved policy needs no limits and no guideline", async (t) => {
  const withdrawn = policyAction({
    modelId: "withdrawn",
    approved: false,
    maxTokensPerRequest: 0,
    requestsPerMinute: 0,
    guidelineUri: "",
    guidelineHash: zeroHash,
  });
  const call = encodeAction(chain.deployment.contracts, withdrawn);
  await (await timelock.sendTransaction({ to: call.target, data: call.calldata })).wait();
  const policy = await registry.getPolicy("withdrawn");
  t.equal(policy.version, 1n);
  t.equal(await registry.matchesRules("withdrawn", policyRulesToAbi(withdrawn)), true);
});

t.test("a grant with no model scope is valid", async (t) => {
  const grantId: bigint = await allocator.nextGrantId();
  await (await allocator.grant(chain.signers[4]!.address, "", 10n, 0n, 100n)).wait();
  t.equal((await allocator.getGrant(grantId)).modelScope, "0x00000000000000000000000000000000");
});

t.test("revoking a grant that does not exist or was revoked is refused", async (t) => {
  t.same(await reverted(allocator.revoke(99n)), { name: "AllocatorUnknownGrant", args: [99n] });
  const grantId: bigint = await allocator.nextGrantId();
  await (await allocator.grant(chain.signers[4]!.address, "", 10n, 0n, 100n)).wait();
  await (await allocator.revoke(grantId)).wait();
  t.same(await reverted(allocator.revoke(grantId)), { name: "AllocatorGrantAlreadyRevoked", args: [grantId] });
});

t.test("the allocator's constructor validates the initial pool and its minimum voting power", async (t) => {
  const { abi, bytecode } = loadArtifact("allocator");
  const factory = new ContractFactory(abi, bytecode, chain.signers[0]);
  const { timelock, token } = chain.deployment.contracts;
  const deploy = (allowancePerAddress: bigint, poolSizePerEpoch: bigint, epochLength: number, minVotes = 0n) =>
    reverted(factory.deploy(timelock, token, { allowancePerAddress, poolSizePerEpoch, epochLength }, minVotes));
  t.same(await deploy(1n, 1n, 0), { name: "AllocatorZeroEpochLength", args: [] });
  t.same(await deploy(2n, 1n, 60), { name: "AllocatorAllowanceExceedsPool", args: [2n, 1n] });
  const maximum = maxPoolMinVotes();
  t.same(await deploy(1n, 1n, 60, maximum + 1n), {
    name: "AllocatorPoolMinVotesTooHigh",
    args: [maximum + 1n, maximum],
  });
});

/** A ten-thousandth of the supply the deployment minted. */
function maxPoolMinVotes(): bigint {
  return chain.config.holders.reduce((sum, h) => sum + h.amount, 0n) / 10_000n;
}

t.test("the pool's minimum voting power is bounded by a ten-thousandth of the token's supply", async (t) => {
  const maximum = maxPoolMinVotes();
  t.equal(await allocator.MAX_POOL_MIN_VOTES(), maximum);
  t.same(await reverted(allocator.setPoolEligibility(maximum + 1n)), {
    name: "AllocatorPoolMinVotesTooHigh",
    args: [maximum + 1n, maximum],
  });
  await (await allocator.setPoolEligibility(maximum)).wait();
  t.equal(await allocator.poolMinVotes(), maximum, "the bound itself is allowed");
  await (await allocator.setPoolEligibility(0n)).wait();
});

t.test("nobody can renounce the registry's or the allocator's ownership, not even the timelock", async (t) => {
  const stranger = chain.signers[5]!;
  for (const caller of [timelock, stranger]) {
    t.same(await reverted(chain.contract("registry", caller).renounceOwnership()), {
      name: "RegistryOwnershipNotRenounceable",
      args: [],
    });
    t.same(await reverted(chain.contract("allocator", caller).renounceOwnership()), {
      name: "AllocatorOwnershipNotRenounceable",
      args: [],
    });
  }
  t.equal(await registry.owner(), chain.deployment.contracts.timelock);
  t.equal(await allocator.owner(), chain.deployment.contracts.timelock);
});

t.test("ownership cannot go to the zero address, nor be taken by anyone else", async (t) => {
  const stranger = chain.signers[5]!;
  for (const role of ["registry", "allocator"] as const) {
    t.same(await reverted(chain.contract(role, timelock).transferOwnership(ZeroAddress)), {
      name: "OwnableInvalidOwner",
      args: [ZeroAddress],
    });
    t.same(await reverted(chain.contract(role, stranger).transferOwnership(stranger.address)), {
      name: "OwnableUnauthorizedAccount",
      args: [stranger.address],
    });
  }
});

t.test("the guardian suspension period is bounded to [1 hour, 30 days]", async (t) => {
  for (const period of [3_599n, 30n * 86_400n + 1n]) {
    t.same(await reverted(registry.setGuardianSuspensionPeriod(period)), {
      name: "RegistryInvalidSuspensionPeriod",
      args: [period, 3_600n, 30n * 86_400n],
    });
  }
  const receipt = await (await registry.setGuardianSuspensionPeriod(3_600n)).wait();
  t.same(eventsOf(chain, receipt, "registry"), [{ name: "GuardianSuspensionPeriodSet", args: [86_400n, 3_600n] }]);
});

t.test("only the governor's guardian may suspend without a vote, not even the timelock", async (t) => {
  for (const caller of [timelock, chain.signers[5]!]) {
    t.same(await reverted(chain.contract("registry", caller).guardianSuspendModel("twice", "now")), {
      name: "RegistryNotGuardian",
      args: [await caller.getAddress()],
    });
  }
});

t.test("every custom error of the registry and the allocator was reached above", async (t) => {
  const declared = new Set<string>();
  for (const role of ["registry", "allocator"] as const) {
    contractInterface(role).forEachError((e) => {
      declared.add(e.name);
    });
  }
  t.same([...seen].sort(), [...declared].sort());
});
