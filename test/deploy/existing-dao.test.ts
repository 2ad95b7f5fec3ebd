/**
 * `commons deploy` beside a DAO that already governs: a plain OpenZeppelin governor and timelock with its
 * own votes token, deployed beforehand on a `hardhat node` (contracts/test/), once on a block-number
 * clock with an ERC20Votes token and once on a timestamp clock with an ERC721Votes NFT. Its earlier
 * proposals are about other things: all are listed, only the AI policy the DAO then passes is enforced.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Contract, ContractFactory, type InterfaceAbi, id, type Wallet, ZeroAddress } from "ethers";
import t, { type Test } from "tap";
import { contractInterface, loadArtifact } from "../../services/chain/artifacts.ts";
import { type Deployment, readDeployment } from "../../services/chain/deployment.ts";
import { TIMELOCK_ROLES } from "../../services/chain/ignition/parameters.ts";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { PROPOSAL, PROPOSALS } from "../../services/cli/operations.ts";
import { build } from "../helpers/app.ts";
import {
  advanceClock,
  apiKeyOf,
  approve,
  callModel,
  commons,
  enact,
  exitsZero,
  indexed,
  testNetwork,
  writeJson,
} from "./flow.ts";

const { node, dir, provider, accounts } = await testNetwork(t, "existing");

// Node accounts: #4 founded the DAO, #5 and #6 are its members, #7 deploys AI Commons beside it.
const [founder, alice, bob, deployer] = accounts.slice(4, 8) as [Wallet, Wallet, Wallet, Wallet];
const asDeployer = { COMMONS_PRIVATE_KEY: deployer.privateKey };
const pool = { allowancePerAddress: "2000", poolSizePerEpoch: "1000000", epochLength: 86400 };

function testArtifact(name: string): { abi: InterfaceAbi; bytecode: string } {
  const file = new URL(`../../artifacts/contracts/test/${name}.sol/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(file, "utf8"));
}

async function create(from: Wallet, artifact: { abi: InterfaceAbi; bytecode: string }, ...args: unknown[]) {
  const contract = await new ContractFactory(artifact.abi, artifact.bytecode, from).deploy(...args);
  await contract.waitForDeployment();
  return new Contract(await contract.getAddress(), artifact.abi, from);
}

interface Dao {
  token: Contract;
  timelock: Contract;
  governor: Contract;
  /** The token's deployment block: the DAO's whole history is from there on. */
  startBlock: number;
  /** Proposals the DAO made before AI Commons: one executed, one defeated; and the blocks they were made in. */
  earlier: string[];
  proposedAt: number[];
}

/**
 * A DAO as OpenZeppelin's wizard sets one up, with nothing of ours: its token, a timelock whose
 * proposer and canceller is the governor and whose admin the founder renounced, and two proposals
 * about its own affairs (one raises the timelock delay and executes, one is voted down).
 */
async function foundDao(clock: "blocknumber" | "timestamp"): Promise<Dao> {
  const token =
    clock === "blocknumber"
      ? await create(founder, testArtifact("TestVotesToken"), [alice.address, bob.address], 1_000n * 10n ** 18n)
      : await create(founder, testArtifact("TestVotesNft"), [alice.address, bob.address], 3);
  const startBlock = (await provider.getBlockNumber()) as number;
  const timelock = await create(founder, loadArtifact("timelock"), 10, [], [ZeroAddress], founder.address);
  // Votes last 20 blocks or 60 seconds, after a delay of one.
  const governor = await create(
    founder,
    testArtifact("TestGovernor"),
    await token.getAddress(),
    await timelock.getAddress(),
    1,
    clock === "blocknumber" ? 20 : 60,
    4,
  );
  const governorAddress = await governor.getAddress();
  await (await timelock.getFunction("grantRole")(TIMELOCK_ROLES.proposer, governorAddress)).wait();
  await (await timelock.getFunction("grantRole")(TIMELOCK_ROLES.canceller, governorAddress)).wait();
  await (await timelock.getFunction("renounceRole")(TIMELOCK_ROLES.admin, founder.address)).wait();
  for (const member of [alice, bob]) {
    await (await (token.connect(member) as Contract).getFunction("delegate")(member.address)).wait();
  }

  const earlier = [];
  const proposedAt = [];
  for (const [description, support] of [
    ["Raise the timelock delay to 12 seconds", 1],
    ["Raise the timelock delay to 1 day", 0],
  ] as const) {
    const calls = [
      [await timelock.getAddress()],
      [0n],
      [timelock.interface.encodeFunctionData("updateDelay", [description.endsWith("day") ? 86_400 : 12])],
    ] as const;
    const proposalId = (await governor.getFunction("hashProposal")(...calls, id(description))) as bigint;
    const proposed = await (
      await (governor.connect(alice) as Contract).getFunction("propose")(...calls, description)
    ).wait();
    proposedAt.push(proposed.blockNumber as number);
    await advanceClock(provider, clock, await governor.getFunction("proposalSnapshot")(proposalId));
    for (const member of [alice, bob]) {
      await (await (governor.connect(member) as Contract).getFunction("castVote")(proposalId, support)).wait();
    }
    await advanceClock(provider, clock, await governor.getFunction("proposalDeadline")(proposalId));
    if (support === 1) {
      const descriptionHash = id(description);
      await (await governor.getFunction("queue")(...calls, descriptionHash)).wait();
      await advanceClock(provider, "timestamp", await governor.getFunction("proposalEta")(proposalId));
      await (await governor.getFunction("execute")(...calls, descriptionHash)).wait();
    }
    earlier.push(proposalId.toString());
  }
  return { token, timelock, governor, startBlock, earlier, proposedAt };
}

async function deployBeside(t: Test, dao: Dao, name: string, startBlock: number): Promise<Deployment> {
  const parameters = await writeJson(dir, `${name}.json`, {
    mode: "existing",
    chainId: 31337,
    governor: await dao.governor.getAddress(),
    startBlock,
    pool,
  });
  const out = join(dir, `${name}-deployment.json`);
  const run = await commons(
    [
      "--rpc",
      node.url,
      "--json",
      "deploy",
      "--parameters",
      parameters,
      "--yes",
      "--journal",
      join(dir, name),
      "--out",
      out,
    ],
    asDeployer,
  );
  exitsZero(t, run);
  t.ok(
    run.json.checks.every((c: { ok: boolean }) => c.ok),
    "every ownership check passes",
  );
  return readDeployment(out);
}

/**
 * The service on the written deployment: the DAO's history listed, then its first AI policy enforced.
 * Started at the token's deployment, it lists both earlier proposals and every delegation; started
 * after the first proposal was made, it lists only the second and skips the first one's later events.
 */
async function governWithExistingDao(t: Test, dao: Dao, deployment: Deployment, model: string) {
  const fromGenesis = deployment.deployBlock === dao.startBlock;
  const service = await build(t, {
    env: { RPC_URL: node.url, DEPLOYMENT_FILE: join(dir, `${model}-deployment.json`) },
  });
  const defeated = await indexed(service, dao.earlier[1] as string, (p) => p.state === "DEFEATED");
  t.same(defeated.kinds, ["UNKNOWN"], "the DAO's own affairs are listed, undecoded");
  const snapshot = (await dao.governor.getFunction("proposalSnapshot")(BigInt(defeated.id))) as bigint;
  t.equal(
    BigInt(defeated.tally.quorum),
    await dao.governor.getFunction("quorum")(snapshot),
    "the quorum is the governor's at the snapshot",
  );
  const api = createGraphqlClient(service.urls.http);
  const first = dao.earlier[0] as string;
  if (fromGenesis) {
    t.equal((await indexed(service, first, (p) => p.state === "EXECUTED")).kinds[0], "UNKNOWN");
    const member = await service.deps.database.db
      .selectFrom("accounts")
      .selectAll()
      .where("address", "=", alice.address)
      .executeTakeFirstOrThrow();
    t.equal(member.delegate, alice.address, "delegation is indexed");
    t.equal(BigInt(member.voting_power), await dao.token.getFunction("getVotes")(alice.address), "so is voting power");
    t.equal(member.balance, "0", "balances are not: the token's history began before the index");
  } else {
    const { proposal } = await api.request(PROPOSAL, { id: first });
    t.equal(proposal, null, "a proposal made before the start block is not listed; its later events were skipped");
  }

  const passed = await enact(service, provider, [alice, bob], [approve(model)], `Approve ${model} for our members`);
  t.same(passed.kinds, ["SET_MODEL_POLICY"]);
  const { proposals } = await api.request(PROPOSALS, { first: 10 });
  t.equal(proposals.totalCount, fromGenesis ? 3 : 2, "every proposal of the governor since the start block is listed");

  const { key } = await apiKeyOf(service, alice);
  t.equal(await callModel(service, key, model), "admitted", "the DAO's policy is enforced");
  t.equal(await callModel(service, key, "not-voted-on"), "MODEL_NOT_APPROVED");
  t.equal(
    BigInt(await dao.timelock.getFunction("getMinDelay")()),
    12n,
    "the earlier proposal's effect is the DAO's own, not ours to enforce",
  );
  t.equal(deployment.contracts.timelock, await dao.timelock.getAddress());
}

const blockDao = await foundDao("blocknumber");

t.test("an address that is not a governor, or a timelock that would not own the registry, is refused", async (t) => {
  const nonce = await provider.getTransactionCount(deployer.address);
  const otherTimelock = await create(founder, loadArtifact("timelock"), 10, [], [ZeroAddress], founder.address);
  const cases = [
    { governor: await blockDao.token.getAddress(), code: "DEPLOY_NOT_A_GOVERNOR" },
    { timelock: await blockDao.token.getAddress(), code: "DEPLOY_NOT_A_TIMELOCK" },
    { timelock: await otherTimelock.getAddress(), code: "DEPLOY_TIMELOCK_MISMATCH" },
  ];
  for (const c of cases) {
    const parameters = await writeJson(dir, "refused.json", {
      mode: "existing",
      chainId: 31337,
      governor: c.governor ?? (await blockDao.governor.getAddress()),
      ...(c.timelock ? { timelock: c.timelock } : {}),
      startBlock: blockDao.startBlock,
      pool,
    });
    const run = await commons(
      ["--rpc", node.url, "--json", "deploy", "--parameters", parameters, "--yes", "--journal", join(dir, "refused")],
      asDeployer,
    );
    t.equal(run.code, 1, c.code);
    t.equal(run.json?.error.code, c.code);
  }
  t.equal(await provider.getTransactionCount(deployer.address), nonce, "nothing was sent");
});

t.test("block-number clock, ERC20Votes: deployed beside the governor, indexed and enforced", async (t) => {
  const deployment = await deployBeside(t, blockDao, "block-model", blockDao.startBlock);
  t.same(deployment.governance, { origin: "existing", clock: "blocknumber", token: "ERC20Votes" });
  t.equal(deployment.deployBlock, blockDao.startBlock);
  const registry = new Contract(deployment.contracts.registry, contractInterface("registry"), provider);
  t.equal(await registry.getFunction("owner")(), deployment.contracts.timelock, "the DAO's timelock owns the registry");
  await governWithExistingDao(t, blockDao, deployment, "block-model");
});

t.test(
  "timestamp clock, ERC721Votes, started mid-history: deployed beside the governor, indexed and enforced",
  async (t) => {
    const nftDao = await foundDao("timestamp");
    const deployment = await deployBeside(t, nftDao, "time-model", (nftDao.proposedAt[0] as number) + 1);
    t.same(deployment.governance, { origin: "existing", clock: "timestamp", token: "ERC721Votes" });
    await governWithExistingDao(t, nftDao, deployment, "time-model");
  },
);
