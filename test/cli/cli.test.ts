import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Contract, encryptKeystoreJson, id, JsonRpcProvider } from "ethers";
import t from "tap";
import { loadArtifact } from "../../services/chain/artifacts.ts";
import type { DevAccount } from "../../services/runtime/dev-accounts.ts";

import { build, proposeDraft } from "../helpers/app.ts";
import { startDevChainProcess } from "../helpers/dev-chain-process.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const OPERATOR_TOKEN = "cli-test-operator-token-0123";
const service = await build(t, { env: { OPERATOR_TOKEN } });
const [alice, bob, carol] = (service.devChain?.holders ?? []) as [DevAccount, DevAccount, DevAccount];
const provider = new JsonRpcProvider(service.urls.rpc, undefined, { cacheTimeout: -1 });
t.teardown(() => provider.destroy());
const governor = new Contract(service.deps.deployment.contracts.governor, loadArtifact("governor").abi, provider);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  // biome-ignore lint/suspicious/noExplicitAny: the CLI's --json output, read field by field
  json: any;
}

/**
 * `commons ...args` through the package bin, as a user runs it, against the test's service. No --rpc:
 * the CLI finds the chain through the URL the service publishes (its development chain is on a free port).
 */
function commons(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, ["bin/commons.js", "--url", service.urls.http, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c;
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      let json: unknown;
      try {
        json = JSON.parse(args.includes("--json") && code === 0 ? stdout : stderr);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

async function advanceTo(timestamp: bigint) {
  const latest = (await provider.getBlock("latest"))?.timestamp ?? 0;
  if (Number(timestamp) > latest) {
    await provider.send("evm_increaseTime", [Number(timestamp) - latest]);
    await provider.send("evm_mine", []);
  }
}

/** A port nothing listens on: taken from the system, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const as = (account: DevAccount) => ({ COMMONS_PRIVATE_KEY: account.privateKey });

t.test("usage errors exit 2 and say what is wrong; a refusal exits 1", async (t) => {
  const noKey = await commons(["delegate", "--json"]);
  t.equal(noKey.code, 2);
  t.equal(noKey.json.error.code, "BAD_USER_INPUT");
  const badId = await commons(["vote", "not-a-number", "for"], as(alice));
  t.equal(badId.code, 2);
  t.match(badId.stderr, /proposal id/);
  const missing = await commons(["status", "12345", "--json"]);
  t.equal(missing.code, 1);
  t.equal(missing.json.error.code, "NOT_FOUND");
});

t.test("propose --file drafts from a JSON file; --draft-only sends nothing and needs no key", async (t) => {
  const folder = await mkdtemp(join(tmpdir(), "commons-proposal-"));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, "proposal.json");
  await writeFile(
    file,
    JSON.stringify({
      description: "Suspend a model",
      actions: [{ suspendModel: { modelId: "some-model", reason: "under review" } }],
    }),
  );
  const unbound = await commons(["propose", "--file", file, "--draft-only", "--json"]);
  t.equal(unbound.code, 1);
  t.equal(unbound.json.error.code, "PROPOSER_REQUIRED", "a draft names the wallet that will propose it");
  const drafted = await commons(["propose", "--file", file, "--draft-only", "--proposer", bob.address, "--json"]);
  t.equal(drafted.code, 0, drafted.stderr);
  t.equal(drafted.json.transaction.to, service.deps.deployment.contracts.governor);
  t.equal(drafted.json.description, `Suspend a model#proposer=${bob.address}`);
  t.equal(await governor.getFunction("proposalSnapshot")(BigInt(drafted.json.proposalId)), 0n, "nothing was proposed");
});

t.test("propose --pool-min-votes drafts the pool's minimum voting power, in governance tokens", async (t) => {
  const drafted = await commons([
    "propose",
    "--description",
    "Keep scripts out of the pool",
    "--pool-min-votes",
    "100.5",
    "--draft-only",
    "--proposer",
    alice.address,
    "--json",
  ]);
  t.equal(drafted.code, 0, drafted.stderr);
  const [targets, , calldatas] = governor.interface.decodeFunctionData("propose", drafted.json.transaction.data);
  const allocator = new Contract(service.deps.deployment.contracts.allocator, loadArtifact("allocator").abi);
  t.same([...targets], [service.deps.deployment.contracts.allocator]);
  t.same(
    [...calldatas],
    [allocator.interface.encodeFunctionData("setPoolEligibility", [100_500_000_000_000_000_000n])],
  );
  const bad = await commons(["propose", "--description", "x", "--pool-min-votes", "lots", "--draft-only", "--json"]);
  t.equal(bad.code, 2);
  t.equal(bad.json.error.code, "BAD_USER_INPUT");
  t.match(bad.json.error.message, /--pool-min-votes/);
});

t.test("propose --guardian and --guardian-suspension-period draft the guardian's typed actions", async (t) => {
  const drafted = await commons([
    "propose",
    "--description",
    "A new guardian with a shorter brake",
    "--guardian",
    carol.address,
    "--guardian-suspension-period",
    "7200",
    "--draft-only",
    "--proposer",
    alice.address,
    "--json",
  ]);
  t.equal(drafted.code, 0, drafted.stderr);
  const { governor: governorAddress, registry } = service.deps.deployment.contracts;
  const [targets, , calldatas] = governor.interface.decodeFunctionData("propose", drafted.json.transaction.data);
  t.same([...targets], [governorAddress, registry]);
  t.same(
    [...calldatas],
    [
      governor.interface.encodeFunctionData("setProposalGuardian", [carol.address]),
      new Contract(registry, loadArtifact("registry").abi).interface.encodeFunctionData(
        "setGuardianSuspensionPeriod",
        [7200],
      ),
    ],
  );
  const short = await commons([
    "propose",
    "--description",
    "x",
    "--guardian-suspension-period",
    "60",
    "--draft-only",
    "--proposer",
    alice.address,
    "--json",
  ]);
  t.equal(short.code, 2);
  t.match(short.json.error, { code: "BAD_USER_INPUT", message: /period/ });
});

t.test("a proposal from flags goes through propose, vote (direct and by signature), queue and execute", async (t) => {
  const model = "cli-model";
  const proposed = await commons(
    [
      "propose",
      "--json",
      "--description",
      "CLI: approve cli-model and grant Carol",
      "--model",
      model,
      "--max-tokens",
      "128",
      "--rpm",
      "30",
      "--purposes",
      "research",
      "--guideline-uri",
      "https://example.org/cli-model",
      "--guideline-hash",
      id("cli-model guideline"),
      "--grant",
      carol.address,
      "--tokens",
      "500",
    ],
    as(alice),
  );
  t.equal(proposed.code, 0, proposed.stderr);
  const proposalId = BigInt(proposed.json.proposalId);
  t.equal(await governor.getFunction("proposalProposer")(proposalId), alice.address, "proposed from Alice's wallet");

  const synced = await commons(["sync", "--wait", "--json"]);
  t.equal(synced.code, 0, synced.stderr);
  const status = await commons(["status", proposalId.toString(), "--json"]);
  t.same(status.json.kinds, ["SET_MODEL_POLICY", "GRANT_ALLOCATION"]);

  await advanceTo((await governor.getFunction("proposalSnapshot")(proposalId)) + 1n);
  const direct = await commons(["vote", proposalId.toString(), "for", "--reason", "useful", "--json"], as(alice));
  t.equal(direct.code, 0, direct.stderr);
  const bySig = await commons(["vote", proposalId.toString(), "FOR", "--by-sig", "--json"], as(bob));
  t.equal(bySig.code, 0, bySig.stderr);
  t.equal(await governor.getFunction("hasVoted")(proposalId, bob.address), true, "Bob's ballot was relayed");
  const again = await commons(["vote", proposalId.toString(), "against", "--json"], as(alice));
  t.equal(again.code, 1, "a second vote is reverted by the governor");
  t.equal(again.json.error.code, "TRANSACTION_REVERTED");
  t.match(again.json.error.message, /GovernorAlreadyCastVote/);

  await advanceTo((await governor.getFunction("proposalDeadline")(proposalId)) + 1n);
  const queued = await commons(["queue", proposalId.toString(), "--json"], as(carol));
  t.equal(queued.code, 0, queued.stderr);
  await advanceTo(await governor.getFunction("proposalEta")(proposalId));
  const executed = await commons(["execute", proposalId.toString(), "--json"], as(carol));
  t.equal(executed.code, 0, executed.stderr);
  t.equal(await governor.getFunction("state")(proposalId), 7n, "Executed on chain");

  t.equal((await commons(["sync", "--wait"])).code, 0);
  const policyArgs = ["policy", model, "--consumer", carol.address, "--purpose", "research", "--json"];
  const anyone = await commons(policyArgs);
  t.equal(anyone.code, 0, anyone.stderr);
  t.equal(anyone.json.budgets, null, "a consumer's budget is private");
  t.equal(anyone.json.privateAccess.granted, false);
  const policy = await commons(policyArgs, { COMMONS_OPERATOR_TOKEN: OPERATOR_TOKEN });
  t.equal(policy.code, 0, policy.stderr);
  t.equal(policy.json.policy.enactedBy.proposalId, proposalId.toString(), "the policy names its proposal");
  t.ok(
    policy.json.budgets.some((b: { source: string; granted: string }) => b.source === "grant" && b.granted === "500"),
    "Carol's grant is in force",
  );
  const listed = await commons(["proposals", "--state", "executed", "--json"]);
  t.ok(
    listed.json.some((p: { id: string }) => p.id === proposalId.toString()),
    "listed among executed proposals",
  );
});

t.test("key create signs in with Ethereum; key revoke ends the key", async (t) => {
  const created = await commons(["key", "create", "--label", "cli", "--json"], as(carol));
  t.equal(created.code, 0, created.stderr);
  t.equal(created.json.address, carol.address);
  const models = () =>
    fetch(`${service.urls.gateway}/models`, { headers: { authorization: `Bearer ${created.json.key}` } });
  t.equal((await models()).status, 200, "the new key works on the gateway");
  const revoked = await commons(["key", "revoke", created.json.id, "--json"], { COMMONS_API_KEY: created.json.key });
  t.equal(revoked.code, 0, revoked.stderr);
  t.equal(((await (await models()).json()) as { error: { code: string } }).error.code, "INVALID_API_KEY");
});

t.test("a keystore file signs in place of COMMONS_PRIVATE_KEY; a wrong password is a usage error", async (t) => {
  const folder = await mkdtemp(join(tmpdir(), "commons-keystore-"));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, "bob.json");
  await writeFile(file, await encryptKeystoreJson(bob, "correct horse", { scrypt: { N: 1024 } }));
  const ok = await commons(["delegate", carol.address, "--keystore", file, "--json"], {
    COMMONS_KEYSTORE_PASSWORD: "correct horse",
  });
  t.equal(ok.code, 0, ok.stderr);
  const token = new Contract(service.deps.deployment.contracts.token, loadArtifact("token").abi, provider);
  t.equal(await token.getFunction("delegates")(bob.address), carol.address, "Bob now delegates to Carol");
  const wrong = await commons(["delegate", "--keystore", file, "--json"], { COMMONS_KEYSTORE_PASSWORD: "wrong" });
  t.equal(wrong.code, 2);
  t.equal(wrong.json.error.code, "BAD_USER_INPUT");
});

t.test("a chain that cannot be reached is RPC_ERROR, not a reverted transaction", async (t) => {
  // A port that was free a moment ago: nothing answers there.
  const closed = await freePort();
  const run = await commons(["--rpc", `http://127.0.0.1:${closed}`, "delegate", "--json"], as(alice));
  t.equal(run.code, 1);
  t.equal(run.json.error.code, "RPC_ERROR");
  t.match(run.json.error.message, `cannot reach the chain's JSON-RPC at 127.0.0.1:${closed}`);
});

t.test("another development chain (same chain id, same addresses) is refused with CHAIN_MISMATCH", async (t) => {
  const other = await startDevChainProcess(t);
  t.equal(other.deployment.contracts.governor, service.deps.deployment.contracts.governor, "the addresses are alike");
  const run = await commons(["--rpc", other.rpcUrl, "delegate", carol.address, "--json"], as(bob));
  t.equal(run.code, 1);
  t.equal(run.json.error.code, "CHAIN_MISMATCH");
  t.match(run.json.error.message, /is not the chain the service at .* indexes/);
  const otherProvider = new JsonRpcProvider(other.rpcUrl, undefined, { cacheTimeout: -1 });
  t.teardown(() => otherProvider.destroy());
  const token = new Contract(other.deployment.contracts.token, loadArtifact("token").abi, otherProvider);
  t.equal(await token.getFunction("delegates")(bob.address), bob.address, "nothing was sent to the other chain");
});

t.test("impact shows what a proposal will do, in lines or as JSON", async (t) => {
  const proposalId = await proposeDraft(service, [
    {
      setModelPolicy: {
        modelId: "impact-model",
        approved: true,
        maxTokensPerRequest: 256,
        requestsPerMinute: 30,
        allowedPurposes: [],
        blockedTerms: [],
        guidelineUri: "https://example.org/impact-model",
        guidelineHash: id("impact-model"),
      },
    },
    { suspendModel: { modelId: "never-set", reason: "will revert" } },
  ]);
  const human = await commons(["impact", proposalId]);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /model impact-model \(NEW\): version - -> 1; approved - -> true/);
  t.match(human.stdout, /! call 1 will be refused: RegistryUnknownModel/);
  t.match(human.stdout, /REVERTS at call 1/);
  t.match(human.stdout, /call 1 to 0x[0-9a-fA-F]{40}: REVERTED RegistryUnknownModel\(never-set\)/);
  t.match(human.stdout, /Replay of \d+ audited calls/);
  t.match(human.stdout, /Shadow mode \(not queued\): 0 calls/);

  const json = await commons(["impact", proposalId, "--days", "2", "--json"]);
  t.equal(json.code, 0, json.stderr);
  t.equal(json.json.diff.models[0].modelId, "impact-model");
  t.equal(json.json.simulation.executes, false);
  t.equal(json.json.replay.until - json.json.replay.since, 2 * 86_400);
  t.same([json.json.shadow.queued, json.json.shadow.calls], [false, 0], "never queued: nothing shadowed");

  const tooLong = await commons(["impact", proposalId, "--days", "40", "--json"]);
  t.equal(tooLong.code, 2, "a window the service refuses is a usage error");
  t.equal(tooLong.json.error.code, "BAD_USER_INPUT");
  const unknown = await commons(["impact", "4242", "--json"]);
  t.equal(unknown.code, 1);
  t.equal(unknown.json.error.code, "NOT_FOUND");
  const badId = await commons(["impact", "0xabc"]);
  t.equal(badId.code, 2);
});
