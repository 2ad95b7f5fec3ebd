import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Contract, JsonRpcProvider, toQuantity, Wallet } from "ethers";
import OpenAI from "openai";
import type { Test } from "tap";
import { contractInterface } from "../../services/chain/artifacts.ts";
import type { Deployment } from "../../services/chain/deployment.ts";
import { castVote, executeProposal, queueProposal, send } from "../../services/cli/chain-actions.ts";
import type { ActionInput } from "../../services/cli/gql/graphql.ts";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { DRAFT_PROPOSAL, PROPOSAL, type ProposalView, SYNC_STATUS } from "../../services/cli/operations.ts";
import { signInForApiKey } from "../../services/cli/sign-in.ts";
import { startHardhatNode } from "../../services/devkit/hardhat-node.ts";
import { until } from "../../services/devkit/until.ts";
import { hardhatAccounts } from "../../services/runtime/dev-accounts.ts";
import type { Service } from "../../services/runtime/start-service.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A `hardhat node` of the test file's own, a temporary folder and a provider, all gone on teardown;
 * `accounts` are the node's funded accounts as wallets connected to it.
 */
export async function testNetwork(t: Test, name: string) {
  const node = await startHardhatNode();
  t.teardown(() => node.stop());
  const dir = await mkdtemp(join(tmpdir(), `commons-deploy-${name}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1, pollingInterval: 50 });
  t.teardown(() => provider.destroy());
  const accounts = hardhatAccounts(10).map((a) => new Wallet(a.privateKey, provider));
  return { node, dir, provider, accounts };
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The `{ error: { code, message } }` of a failed --json run, or the result of a successful one. */
  // biome-ignore lint/suspicious/noExplicitAny: the CLI's --json output, read field by field
  json: any;
}

/**
 * `commons ...args` through the package bin, as an operator runs it, in its own process group (so that
 * a test can kill it halfway). `onLine` hears each stderr line (the deploy's progress) as it comes.
 */
export function commons(
  args: string[],
  env: Record<string, string>,
  onLine?: (line: string, child: ChildProcess) => void,
): Promise<Run> {
  const child = spawn(process.execPath, ["bin/commons.js", ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", ...env },
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c;
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c;
    const lines = (partial + c.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine?.(line, child);
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      let json: unknown;
      try {
        json = JSON.parse(args.includes("--json") && code === 0 ? stdout : (stderr.trim().split("\n").at(-1) ?? ""));
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

/** Asserts that a run succeeded; its output is shown only when it did not. */
export function exitsZero(t: Test, run: Run) {
  t.equal(run.code, 0, "exits 0");
  if (run.code !== 0) t.comment(run.stderr);
}

/** Kills a `commons` run and everything it started (the bin starts tsx in a child process). */
export function kill(child: ChildProcess): void {
  process.kill(-(child.pid as number), "SIGKILL");
}

export async function writeJson(dir: string, name: string, value: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(value, null, 2));
  return path;
}

/** Moves a `hardhat node` forward until the governor's clock (seconds or blocks) is past `target`. */
export async function advanceClock(
  provider: JsonRpcProvider,
  clock: "timestamp" | "blocknumber",
  target: bigint,
): Promise<void> {
  const latest = await provider.getBlock("latest");
  if (!latest) throw new Error("the node has no latest block");
  if (clock === "timestamp") {
    if (BigInt(latest.timestamp) <= target) {
      await provider.send("evm_increaseTime", [Number(target - BigInt(latest.timestamp)) + 1]);
      await provider.send("evm_mine", []);
    }
  } else if (BigInt(latest.number) <= target) {
    await provider.send("hardhat_mine", [toQuantity(target - BigInt(latest.number) + 1n)]);
  }
}

/**
 * Passes `actions` through the deployment's governor as its holders would: drafted through the service's
 * GraphQL, proposed by the first wallet, voted FOR by all, queued and executed on the node, and waited
 * for in the index. Uses only IGovernor's standard functions, so it works on any OpenZeppelin governor.
 */
export async function enact(
  service: Service,
  provider: JsonRpcProvider,
  voters: Wallet[],
  actions: ActionInput[],
  description: string,
): Promise<ProposalView> {
  const deployment = service.deps.deployment as Deployment;
  const clock = deployment.governance?.clock ?? "timestamp";
  const api = createGraphqlClient(service.urls.http);
  const proposer = voters[0] as Wallet;
  const { draftProposal } = await api.request(DRAFT_PROPOSAL, {
    input: { description, actions, proposer: proposer.address },
  });
  const { to, data } = draftProposal.transaction;
  await send("proposing", () => proposer.sendTransaction({ to, data }));
  const id = BigInt(draftProposal.proposalId);
  const governor = new Contract(deployment.contracts.governor, contractInterface("governor"), provider);
  await advanceClock(provider, clock, (await governor.getFunction("proposalSnapshot")(id)) as bigint);
  // Judged on the governor's own clock: on a block-number clock, a deadline in blocks compared with
  // seconds would have ended long ago.
  await indexed(service, id.toString(), (p) => p.state === "ACTIVE");
  for (const voter of voters) await castVote(deployment, voter, id, "FOR");
  await advanceClock(provider, clock, (await governor.getFunction("proposalDeadline")(id)) as bigint);
  const proposal = await indexed(service, id.toString(), (p) => p.state === "SUCCEEDED");
  await queueProposal(deployment, proposer, proposal);
  await advanceClock(provider, "timestamp", (await governor.getFunction("proposalEta")(id)) as bigint);
  const executed = await executeProposal(deployment, proposer, proposal);
  await until(async () => {
    const { syncStatus } = await api.request(SYNC_STATUS);
    return syncStatus.indexedBlock >= executed.blockNumber ? true : undefined;
  }, "the index to have the execution");
  return indexed(service, id.toString(), (p) => p.state === "EXECUTED");
}

/** The proposal as the service lists it, once `ready` holds. */
export function indexed(service: Service, id: string, ready: (p: ProposalView) => boolean): Promise<ProposalView> {
  const api = createGraphqlClient(service.urls.http);
  return until(
    async () => {
      const { proposal } = await api.request(PROPOSAL, { id });
      return proposal && ready(proposal) ? proposal : undefined;
    },
    `proposal ${id} in the index`,
    { timeoutMs: 30_000 },
  );
}

/** An API key for `wallet`, by Sign-In with Ethereum against the service. */
export function apiKeyOf(service: Service, wallet: Wallet) {
  return signInForApiKey(createGraphqlClient(service.urls.http), service.urls.http, wallet);
}

/** One chat call through the gateway with the openai SDK: "admitted", or the refusal's reason code. */
export async function callModel(service: Service, apiKey: string, model: string): Promise<string> {
  const openai = new OpenAI({ apiKey, baseURL: service.urls.gateway, maxRetries: 0 });
  try {
    await openai.chat.completions.create({
      model,
      max_tokens: 16,
      messages: [{ role: "user", content: "Who decides how this AI is used?" }],
      metadata: { purpose: "education" },
    });
    return "admitted";
  } catch (error) {
    if (error instanceof OpenAI.APIError) return String(error.code);
    throw error;
  }
}

/** A model policy action (draftProposal's ActionInput) that approves `modelId` for education. */
export function approve(modelId: string): ActionInput {
  return {
    setModelPolicy: {
      modelId,
      approved: true,
      maxTokensPerRequest: 512,
      requestsPerMinute: 60,
      allowedPurposes: ["education"],
      blockedTerms: [],
      guidelineUri: `https://example.org/guidelines/${modelId}`,
      guidelineHash: `0x${"ab".repeat(32)}`,
    },
  };
}
