/**
 * `commons deploy` of a new DAO against a `hardhat node` in its own process, over JSON-RPC: refusals,
 * a dry run, a deployment killed halfway that resumes to the same result, and then the service on that
 * deployment (RPC_URL + the written DEPLOYMENT_FILE) indexing a proposal that passes and enforcing it.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Contract, getCreateAddress, Wallet } from "ethers";
import pg from "pg";
import t from "tap";
import { loadArtifact } from "../../services/chain/artifacts.ts";
import { readDeployment } from "../../services/chain/deployment.ts";
import { delegate } from "../../services/cli/chain-actions.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { until } from "../../services/devkit/until.ts";
import { build } from "../helpers/app.ts";
import { apiKeyOf, approve, callModel, commons, enact, exitsZero, kill, testNetwork, writeJson } from "./flow.ts";

const { node, dir, provider, accounts } = await testNetwork(t, "new");

// Node accounts #1 and #2 hold the tokens; #3 deploys, so that it must end with no role at all.
const [alice, bob, deployer] = accounts.slice(1, 4) as [Wallet, Wallet, Wallet];
const TOKENS = 1_000_000n * 10n ** 18n;
const parameters = {
  mode: "new",
  chainId: 31337,
  holders: [alice, bob].map((h) => ({ address: h.address, amount: TOKENS.toString() })),
  governor: { votingDelay: 1, votingPeriod: 60, proposalThreshold: "1", quorumPercent: 4, lateQuorumExtension: 0 },
  timelockDelay: 10,
  pool: { allowancePerAddress: "2000", poolSizePerEpoch: "1000000", epochLength: 86400 },
  confirmations: 1,
};
const parametersFile = await writeJson(dir, "parameters.json", parameters);
const asDeployer = { COMMONS_PRIVATE_KEY: deployer.privateKey };
const deploy = (extra: string[], env: Record<string, string> = asDeployer) =>
  commons(["--rpc", node.url, "--json", "deploy", "--parameters", parametersFile, "--yes", ...extra], env);

t.test("refusals are coded, say what is wrong, and send nothing", async (t) => {
  const nonce = await provider.getTransactionCount(deployer.address);
  const mainnet = await writeJson(dir, "mainnet.json", { ...parameters, chainId: 1 });
  const wrongChain = await commons(
    ["--rpc", node.url, "--json", "deploy", "--parameters", mainnet, "--yes"],
    asDeployer,
  );
  t.equal(wrongChain.code, 1);
  t.equal(wrongChain.json.error.code, "DEPLOY_WRONG_CHAIN");
  t.match(wrongChain.json.error.message, /serves chain 31337, but the parameters are for chain 1/);

  const broke = await deploy([], { COMMONS_PRIVATE_KEY: Wallet.createRandom().privateKey });
  t.equal(broke.code, 1);
  t.equal(broke.json.error.code, "DEPLOY_NO_FUNDS");

  const invalid = await writeJson(dir, "invalid.json", { ...parameters, holders: [{ address: "0x12", amount: -1 }] });
  const badFile = await commons(["--rpc", node.url, "--json", "deploy", "--parameters", invalid, "--yes"], asDeployer);
  t.equal(badFile.code, 2);
  t.equal(badFile.json.error.code, "BAD_USER_INPUT");
  t.match(badFile.json.error.message, /holders\.0\.address/);

  const noKey = await deploy([], {});
  t.equal(noKey.code, 2);
  t.equal(noKey.json.error.code, "BAD_USER_INPUT");
  t.equal(await provider.getTransactionCount(deployer.address), nonce, "the deployer sent nothing");
});

t.test("a dry run prints each step with its gas and sends nothing; so does a deploy nobody confirms", async (t) => {
  const nonce = await provider.getTransactionCount(deployer.address);
  const run = await deploy(["--dry-run"]);
  exitsZero(t, run);
  t.same(
    run.json.steps.map((s: { futureId: string }) => s.futureId).sort(),
    [
      "CommonsGovernor",
      "CommonsTimelock",
      "CommonsToken",
      "GrantCancellerRole",
      "GrantProposerRole",
      "PolicyRegistry",
      "RenounceAdminRole",
      "ResourceAllocator",
      "UsageAnchor",
    ].map((name) => `CommonsNewDao#${name}`),
  );
  t.ok(
    run.json.steps.every((s: { gas: string }) => BigInt(s.gas) > 21_000n),
    "every step has its gas",
  );
  t.equal(
    BigInt(run.json.gas),
    run.json.steps.reduce((sum: bigint, s: { gas: string }) => sum + BigInt(s.gas), 0n),
  );
  t.match(run.stderr, /total\s+[\d,]+ gas, at most [\d.]+ ETH/);
  t.equal(await provider.getTransactionCount(deployer.address), nonce, "the deployer sent nothing");

  // Without --yes, the deployment asks first; with no terminal to ask on, it refuses.
  const unconfirmed = await commons(
    ["--rpc", node.url, "--json", "deploy", "--parameters", parametersFile],
    asDeployer,
  );
  t.equal(unconfirmed.code, 2);
  t.equal(unconfirmed.json.error.code, "BAD_USER_INPUT");
  t.match(unconfirmed.json.error.message, /--yes/);
  t.equal(await provider.getTransactionCount(deployer.address), nonce, "nothing was sent unconfirmed");
});

const journal = join(dir, "journal");
const deploymentFile = join(dir, "deployment.json");

t.test("a deployment killed halfway resumes from its journal to the same result", async (t) => {
  const start = await provider.getTransactionCount(deployer.address);
  // The node mines only when told: the first transaction is mined, and the deploy process is killed
  // while the second waits in the mempool, as if the operator's machine died mid-deployment.
  await provider.send("evm_setAutomine", [false]);
  let sends = 0;
  const killed = await commons(
    [
      "--rpc",
      node.url,
      "deploy",
      "--parameters",
      parametersFile,
      "--yes",
      "--journal",
      journal,
      "--out",
      deploymentFile,
    ],
    asDeployer,
    (line, child) => {
      if (!/^\s+sent\s/.test(line)) return;
      sends += 1;
      if (sends === 1) void provider.send("evm_mine", []);
      else kill(child);
    },
  );
  t.equal(killed.signal, "SIGKILL", "the first run was killed halfway");
  t.notOk(existsSync(deploymentFile), "a killed run writes no deployment file");
  await provider.send("evm_setAutomine", [true]);
  await provider.send("evm_mine", []);
  t.equal(await provider.getTransactionCount(deployer.address), start + 2, "two transactions landed before the kill");

  const resumed = await deploy(["--journal", journal, "--out", deploymentFile]);
  exitsZero(t, resumed);
  t.match(resumed.stderr, /Resuming from the journal/);
  t.match(resumed.stderr, /ok {3}the deployer holds no timelock role/);
  t.ok(
    resumed.json.checks.every((c: { ok: boolean }) => c.ok),
    "every check passes",
  );
  t.equal(await provider.getTransactionCount(deployer.address), start + 9, "nine transactions in all: none twice");
  const deployment = readDeployment(deploymentFile);
  t.same(
    new Set([...Object.values(deployment.contracts), deployment.usageAnchor]),
    new Set([0, 1, 2, 3, 4, 5].map((i) => getCreateAddress({ from: deployer.address, nonce: start + i }))),
    "the six contracts (five of governance, the usage anchor) are the deployer's first six creations: none was deployed again",
  );
  t.equal(deployment.governance?.origin, "ours");
  t.ok(deployment.deployBlock > 0 && deployment.deployBlock <= (await provider.getBlockNumber()));

  const again = await deploy(["--journal", journal, "--out", deploymentFile]);
  exitsZero(t, again);
  t.equal(await provider.getTransactionCount(deployer.address), start + 9, "a finished journal sends nothing");
  t.same(readDeployment(deploymentFile).contracts, deployment.contracts);
});

const databaseUrl = await createTestDatabase(t);
const serviceEnv = () => ({ RPC_URL: node.url, DEPLOYMENT_FILE: deploymentFile, DATABASE_URL: databaseUrl });
let keyBeforeRestart = "";

t.test("the service on the written deployment indexes a proposal that passes and enforces it", async (t) => {
  const service = await build(t, { env: serviceEnv() });
  const deployment = service.deps.deployment;
  for (const holder of [alice, bob]) await delegate(deployment, holder, holder.address);
  const passed = await enact(service, provider, [alice, bob], [approve("deploy-model-1")], "Approve deploy-model-1");
  t.same(passed.kinds, ["SET_MODEL_POLICY"]);
  const token = new Contract(deployment.contracts.token, loadArtifact("token").abi, provider);
  t.equal(await token.getFunction("balanceOf")(alice.address), TOKENS, "the distribution is the parameters'");

  const { key } = await apiKeyOf(service, alice);
  keyBeforeRestart = key;
  const admitted = await until(async () => {
    const outcome = await callModel(service, key, "deploy-model-1");
    return outcome === "admitted" ? outcome : undefined;
  }, "the gateway to admit the approved model");
  t.equal(admitted, "admitted");
  t.equal(await callModel(service, key, "never-approved"), "MODEL_NOT_APPROVED");
});

t.test("a restart on Postgres keeps the index, keys, ledger and audit, and resumes from the checkpoint", async (t) => {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  const count = async (table: string) => Number((await db.query(`select count(*) as n from ${table}`)).rows[0].n);
  const tables = ["proposals", "votes", "proposal_events", "api_keys", "gateway_decisions", "gateway_usage"];
  const before = Object.fromEntries(await Promise.all(tables.map(async (name) => [name, await count(name)])));
  t.ok(before.gateway_decisions >= 2 && before.gateway_usage >= 1, "decisions and usage were recorded");
  const checkpoint = (await db.query("select block_number from indexer_checkpoint")).rows[0].block_number;

  // While the service is down the chain moves on: Bob delegates to Alice.
  const receipt = await delegate(readDeployment(deploymentFile), bob, alice.address);
  t.ok(receipt.blockNumber > checkpoint, "the delegation is past the checkpoint");

  const service = await build(t, { env: serviceEnv() });
  await service.indexer.waitForBlock(receipt.blockNumber);
  t.equal(service.indexer.status().lastError, null, "the indexer resumed without an error");
  // Indexed again from the deployment block, the rows before the checkpoint would collide with the kept
  // ones (and the counts would change): the range after the restart starts at the checkpoint.
  const bobRow = await db.query("select delegate from accounts where address = $1", [bob.address]);
  t.equal(bobRow.rows[0]?.delegate, alice.address, "the delegation made while down is indexed");
  for (const name of ["proposals", "votes", "proposal_events", "api_keys"]) {
    t.equal(await count(name), before[name], `${name} kept, none twice`);
  }

  t.equal(await callModel(service, keyBeforeRestart, "deploy-model-1"), "admitted", "the key issued before works");
  t.equal(await count("gateway_decisions"), before.gateway_decisions + 1, "the audit kept every earlier decision");
  t.ok((await count("gateway_usage")) >= before.gateway_usage, "the ledger kept its usage");
});
