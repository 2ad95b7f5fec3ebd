/**
 * `npm run demo`: the whole AI Commons flow, end to end, each step printed in plain words.
 *
 * Against the service at COMMONS_URL (and the chain it publishes, or COMMONS_RPC_URL), or the one already answering
 * on http://127.0.0.1:4000, or else one it starts in this process on free ports. Needs a development
 * chain (it funds wallets from Hardhat's public account #0 and moves the chain's clock). Exits 1 at the
 * first step that does not do what it says.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Contract, formatUnits, id, type JsonRpcProvider, parseEther, parseUnits, Wallet } from "ethers";
import OpenAI from "openai";
import { loadArtifact } from "../services/chain/artifacts.ts";
import type { Deployment } from "../services/chain/deployment.ts";
import { castVote, delegate, executeProposal, queueProposal, send, signBallot } from "../services/cli/chain-actions.ts";
import { createGraphqlClient, type GraphqlClient } from "../services/cli/graphql-client.ts";
import { CAST_VOTE_BY_SIG, DRAFT_PROPOSAL, POLICY_STATUS, PROPOSAL, SYNC_STATUS } from "../services/cli/operations.ts";
import { connectChain, fetchDeployment } from "../services/cli/service.ts";
import { signInForApiKey } from "../services/cli/sign-in.ts";
import { until } from "../services/devkit/until.ts";
import { hardhatAccounts } from "../services/runtime/dev-accounts.ts";
import { type Service, startService } from "../services/runtime/start-service.ts";
import { loadConfig } from "../services/shared/config.ts";

const DEFAULT_URL = "http://127.0.0.1:4000";
const DEV_CHAIN_ID = 31337;
const PURPOSE = "education";

class StepFailed extends Error {}

let stepNumber = 0;
/** Runs one step: prints what it does, then what came of it; a broken promise stops the demo. */
async function step<T>(title: string, run: () => Promise<[T, string]>): Promise<T> {
  stepNumber++;
  process.stdout.write(`${String(stepNumber).padStart(2)}. ${title} ... `);
  try {
    const [value, outcome] = await run();
    process.stdout.write(`${outcome}\n`);
    return value;
  } catch (error) {
    process.stdout.write("FAILED\n");
    throw error;
  }
}

function expect(condition: unknown, failure: string): asserts condition {
  if (!condition) throw new StepFailed(failure);
}

/** How the demo waits for the index and the gateway, which catch up asynchronously. */
const CATCH_UP = { timeoutMs: 30_000, intervalMs: 100 };

/** Moves the development chain's clock to `timestamp` (evm_increaseTime + evm_mine). */
async function advanceTo(provider: JsonRpcProvider, timestamp: number): Promise<number> {
  const latest = (await provider.getBlock("latest"))?.timestamp ?? 0;
  if (timestamp > latest) {
    await provider.send("evm_increaseTime", [timestamp - latest]);
    await provider.send("evm_mine", []);
  }
  return Math.max(0, timestamp - latest);
}

async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return String(error.code);
    throw error;
  }
  return "ADMITTED";
}

interface Target {
  url: string;
  /** Unset: the JSON-RPC URL the service publishes. */
  rpcUrl: string | undefined;
  service?: Service;
  cleanup(): Promise<void>;
}

/** The service to run against: COMMONS_URL, one answering on the default URL, or a new one in process. */
async function target(env: NodeJS.ProcessEnv): Promise<Target> {
  if (env.COMMONS_URL) {
    return { url: env.COMMONS_URL, rpcUrl: env.COMMONS_RPC_URL, cleanup: async () => {} };
  }
  const running = await fetch(`${DEFAULT_URL}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
  if (running?.ok) {
    return { url: DEFAULT_URL, rpcUrl: env.COMMONS_RPC_URL, cleanup: async () => {} };
  }
  console.log("No service at COMMONS_URL or on port 4000: starting one in this process (fresh chain, PGlite).");
  const dataDir = env.DATA_DIR ? undefined : await mkdtemp(join(tmpdir(), "commons-demo-"));
  const config = loadConfig({
    ...env,
    PORT: env.PORT ?? "0",
    RPC_PORT: env.RPC_PORT ?? "0",
    LOG_LEVEL: env.LOG_LEVEL ?? "warn",
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
  });
  const service = await startService(config);
  return {
    url: service.urls.http,
    rpcUrl: service.urls.rpc,
    service,
    async cleanup() {
      await service.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function run(url: string, rpcOverride: string | undefined) {
  const api = createGraphqlClient(url);
  const deployment = await fetchDeployment(url);
  if (deployment.chainId !== DEV_CHAIN_ID) {
    throw new StepFailed(
      `the demo needs a development chain (chain id ${DEV_CHAIN_ID}); the service at ${url} governs chain ${deployment.chainId}`,
    );
  }
  // The chain the service indexes, checked (chain id and deploy block hash) before anything is sent.
  const { provider, rpcUrl } = await connectChain(deployment, rpcOverride, url, { pollingInterval: 100 });
  try {
    console.log(`AI Commons demo against ${url} (chain ${deployment.chainId} at ${rpcUrl})\n`);
    await flow(api, url, deployment, provider);
  } finally {
    provider.destroy();
  }
}

async function flow(api: GraphqlClient, url: string, deployment: Deployment, provider: JsonRpcProvider) {
  const funder = new Wallet((hardhatAccounts(1)[0] as { privateKey: string }).privateKey, provider);
  const alice = Wallet.createRandom().connect(provider);
  const bob = Wallet.createRandom().connect(provider);
  const token = new Contract(deployment.contracts.token, loadArtifact("token").abi, funder);
  const governor = new Contract(deployment.contracts.governor, loadArtifact("governor").abi, provider);
  const stake = parseUnits("300000", 18);
  const model = `demo-${randomBytes(4).toString("hex")}`;
  const grantTokens = 1_000n;

  await step("Two new wallets, Alice and Bob, get ETH for gas and 300,000 governance tokens each", async () => {
    for (const w of [alice, bob]) {
      await send("funding", () => funder.sendTransaction({ to: w.address, value: parseEther("1") }));
      await send("transferring tokens", () => token.getFunction("transfer")(w.address, stake));
    }
    return [undefined, `ok: Alice ${alice.address}, Bob ${bob.address}`];
  });

  await step("Both delegate their voting power to themselves (tokens vote only once delegated)", async () => {
    for (const w of [alice, bob]) await delegate(deployment, w, w.address);
    const votes = (await token.getFunction("getVotes")(alice.address)) as bigint;
    expect(votes === stake, `Alice has ${votes} votes, expected ${stake}`);
    return [undefined, `ok: each has ${formatUnits(votes, 18)} votes`];
  });

  const now = Math.floor(Date.now() / 1000);
  const drafted = await step(
    `Draft a proposal through GraphQL (draftProposal): approve model ${model} and grant Alice ${grantTokens} tokens per epoch`,
    async () => {
      const { draftProposal } = await api.request(DRAFT_PROPOSAL, {
        input: {
          description: `Demo: approve ${model} for education and research, and give Alice a compute grant`,
          proposer: alice.address,
          actions: [
            {
              setModelPolicy: {
                modelId: model,
                approved: true,
                maxTokensPerRequest: 512,
                requestsPerMinute: 60,
                allowedPurposes: ["education", "research"],
                blockedTerms: ["forbidden-term"],
                guidelineUri: `https://example.org/guidelines/${model}`,
                guidelineHash: id(`guidelines for ${model}`),
              },
            },
            {
              grantAllocation: {
                grantee: alice.address,
                modelId: model,
                tokensPerEpoch: grantTokens.toString(),
                start: now - 60,
                end: now + 30 * 86_400,
              },
            },
          ],
        },
      });
      expect(
        draftProposal.transaction.to === deployment.contracts.governor,
        "the drafted transaction is not for the governor",
      );
      return [draftProposal, `ok: proposal ${draftProposal.proposalId.slice(0, 12)}…, 2 actions encoded`];
    },
  );
  const proposalId = BigInt(drafted.proposalId);

  await step("Alice signs the drafted transaction and sends it to the chain", async () => {
    const { to, data } = drafted.transaction;
    const receipt = await send("proposing", () => alice.sendTransaction({ to, data }));
    return [undefined, `ok: proposed in block ${receipt.blockNumber}`];
  });

  await step("Advance the development chain's clock past the voting delay", async () => {
    const snapshot = Number(await governor.getFunction("proposalSnapshot")(proposalId));
    const moved = await advanceTo(provider, snapshot + 1);
    return [undefined, `ok: +${moved}s, voting is open`];
  });

  await step("Alice votes FOR directly on the governor", async () => {
    const receipt = await castVote(deployment, alice, proposalId, "FOR", "Good for learners");
    return [undefined, `ok: block ${receipt.blockNumber}`];
  });

  await step("Bob signs an EIP-712 ballot and the service relays it (castVoteBySig; Bob pays no gas)", async () => {
    const signature = await signBallot(deployment, bob, proposalId, "FOR");
    const balanceBefore = await provider.getBalance(bob.address);
    const { castVoteBySig } = await api.request(CAST_VOTE_BY_SIG, {
      proposalId: proposalId.toString(),
      support: "FOR",
      voter: bob.address,
      signature,
    });
    await provider.waitForTransaction(castVoteBySig);
    const voted = (await governor.getFunction("hasVoted")(proposalId, bob.address)) as boolean;
    expect(voted, "the governor has no vote from Bob");
    expect((await provider.getBalance(bob.address)) === balanceBefore, "Bob paid gas");
    return [undefined, `ok: relayed in ${castVoteBySig.slice(0, 12)}…`];
  });

  await step("Advance past the voting period: the proposal succeeds", async () => {
    const deadline = Number(await governor.getFunction("proposalDeadline")(proposalId));
    const moved = await advanceTo(provider, deadline + 1);
    const state = Number(await governor.getFunction("state")(proposalId));
    expect(state === 4, `the governor says state ${state}, expected 4 (Succeeded)`);
    return [undefined, `ok: +${moved}s, Succeeded`];
  });

  const calls = await step("Queue it in the timelock (anyone may)", async () => {
    const proposal = await until(
      async () => {
        const { proposal } = await api.request(PROPOSAL, { id: drafted.proposalId });
        return proposal ?? undefined;
      },
      "the proposal in the index",
      CATCH_UP,
    );
    const receipt = await queueProposal(deployment, bob, proposal);
    return [proposal, `ok: block ${receipt.blockNumber}`];
  });

  const executed = await step("Advance past the timelock delay and execute it", async () => {
    const eta = Number(await governor.getFunction("proposalEta")(proposalId));
    const moved = await advanceTo(provider, eta);
    const receipt = await executeProposal(deployment, bob, calls);
    return [receipt.blockNumber, `ok: +${moved}s, executed in block ${receipt.blockNumber}`];
  });

  await step("Wait for the index to reach that block (syncStatus)", async () => {
    const status = await until(
      async () => {
        const { syncStatus } = await api.request(SYNC_STATUS);
        return syncStatus.indexedBlock >= executed ? syncStatus : undefined;
      },
      "the index",
      CATCH_UP,
    );
    const { proposal } = await api.request(PROPOSAL, { id: drafted.proposalId });
    expect(proposal?.state === "EXECUTED", `the index says ${proposal?.state}, expected EXECUTED`);
    return [undefined, `ok: indexed block ${status.indexedBlock}, ${status.lag} behind; the proposal is EXECUTED`];
  });

  const issued = await step("Alice signs in with Ethereum (siweNonce, createApiKey) for an API key", async () => {
    const key = await signInForApiKey(api, url, alice, "demo");
    expect(key.address === alice.address, `the key was issued to ${key.address}`);
    return [key, `ok: key ${key.prefix}… issued to Alice`];
  });

  const openai = new OpenAI({
    apiKey: issued.key,
    baseURL: new URL("/v1", url).toString(),
    maxRetries: 0,
    defaultHeaders: { "x-commons-purpose": PURPOSE },
  });
  const ask = (modelId: string, maxTokens: number) =>
    openai.chat.completions.create({
      model: modelId,
      max_tokens: maxTokens,
      messages: [{ role: "user", content: "In one sentence: why should a community govern its AI?" }],
    });

  await step(`The gateway lists ${model} for Alice once its policy snapshot has the change`, async () => {
    await until(
      async () => {
        const models = await openai.models.list();
        return models.data.some((m) => m.id === model) ? true : undefined;
      },
      "the gateway's policy snapshot",
      CATCH_UP,
    );
    return [undefined, "ok"];
  });

  await step(`Alice calls ${model} with the openai SDK (purpose ${PURPOSE})`, async () => {
    const answer = await ask(model, 32);
    const text = answer.choices[0]?.message.content ?? "";
    expect(text.length > 0, "the answer is empty");
    return [undefined, `admitted: "${text.slice(0, 60)}…" (${answer.usage?.total_tokens} tokens)`];
  });

  await step("A model governance never approved is refused", async () => {
    const code = await refusal(ask("unapproved-model", 32));
    expect(code === "MODEL_NOT_APPROVED", `got ${code}, expected MODEL_NOT_APPROVED`);
    return [undefined, `refused: ${code}`];
  });

  await step("Asking for more tokens than the policy's 512 per request is refused", async () => {
    const code = await refusal(ask(model, 1000));
    expect(code === "MAX_TOKENS_EXCEEDED", `got ${code}, expected MAX_TOKENS_EXCEEDED`);
    return [undefined, `refused: ${code}`];
  });

  await step("Alice spends her budget (her grant, then her community pool allowance) until refused", async () => {
    let admitted = 0;
    for (;;) {
      const code = await refusal(ask(model, 500));
      if (code !== "ADMITTED") {
        expect(code === "BUDGET_EXHAUSTED", `got ${code}, expected BUDGET_EXHAUSTED`);
        expect(admitted > 0, "no call was admitted before the budget ran out");
        return [undefined, `refused after ${admitted} more calls of ~500 tokens: ${code}`];
      }
      admitted++;
      expect(admitted <= 100, "100 calls of 500 tokens were admitted: the budget is not enforced");
    }
  });

  await step("policyStatus: the policy in force, where it came from, the budget and the decisions", async () => {
    const owner = createGraphqlClient(url, { apiKey: issued.key });
    const { policyStatus: s } = await owner.request(POLICY_STATUS, {
      model,
      consumer: alice.address,
      purpose: PURPOSE,
      withDecisions: true,
    });
    expect(s.policy?.enactedBy.proposalId === drafted.proposalId, "the policy does not name the demo's proposal");
    expect(
      (s.budgets ?? []).some((b) => b.source === "grant") && (s.budgets ?? []).every((b) => BigInt(b.left) < 500n),
      "policyStatus does not show the grant, or shows room for another 500-token call",
    );
    const enacted = s.policy.enactedBy;
    const lines = [
      "ok:",
      `      policy v${s.policy.version}: max ${s.policy.maxTokensPerRequest} tokens/request, ${s.policy.requestsPerMinute}/min, purposes ${s.policy.allowedPurposes.join(", ")}`,
      `      enacted by proposal ${enacted.proposalId?.slice(0, 12)}… in transaction ${enacted.transactionHash.slice(0, 12)}… (block ${enacted.blockNumber})`,
      ...(s.budgets ?? []).map((b) => `      budget ${b.source}: used ${b.used} of ${b.granted}, ${b.left} left`),
      `      a call with the default max_tokens now: ${s.admitted ? "admitted" : `refused ${s.reason}`}`,
      `      recent decisions: ${(s.recentDecisions ?? []).map((d) => (d.admitted ? "admitted" : d.reasonCode)).join(", ")}`,
    ];
    return [undefined, lines.join("\n")];
  });
}

const env = process.env;
let chosen: Target | undefined;
try {
  chosen = await target(env);
  await run(chosen.url, chosen.rpcUrl);
  console.log("\nDone: every step did what it says.");
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`\nThe demo stopped: ${message}`);
  process.exitCode = 1;
} finally {
  await chosen?.cleanup();
}
