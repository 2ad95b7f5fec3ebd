import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { contractInterface } from "../../services/chain/artifacts.ts";
import { castVote, executeProposal, queueProposal, send } from "../../services/cli/chain-actions.ts";
import type { ActionInput } from "../../services/cli/gql/graphql.ts";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { DRAFT_PROPOSAL, PROPOSAL, SYNC_STATUS } from "../../services/cli/operations.ts";
import { type IssuedKey, signInForApiKey } from "../../services/cli/sign-in.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { until } from "../../services/devkit/until.ts";
import type { Upstream } from "../../services/gateway/upstream.ts";
import { type Service, startService } from "../../services/runtime/start-service.ts";
import { loadConfig } from "../../services/shared/config.ts";
import type { Logger } from "../../services/shared/logger.ts";

type Teardown = { teardown(fn: () => unknown): void };

export interface BuildOptions {
  /** "postgres" (default): a fresh database of its own on the machine's Postgres; "pglite": embedded. */
  database?: "postgres" | "pglite";
  /** More settings, as the environment gives them (RPC_URL + DEPLOYMENT_FILE to join a running chain). */
  env?: Record<string, string>;
  upstream?: Upstream;
  now?: () => number;
  /** The service's logger (by default one from LOG_LEVEL, which tests set to silent). */
  logger?: Logger;
}

/**
 * The whole service as `npm start` runs it, on isolated real resources: its own development chain on a
 * free port (unless `env` names RPC_URL), its own database, a temporary DATA_DIR, HTTP on a free port.
 * Closed, and its resources removed, on teardown.
 */
export async function build(t: Teardown, options: BuildOptions = {}): Promise<Service> {
  const dataDir = await mkdtemp(join(tmpdir(), "commons-app-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env: Record<string, string> = {
    HOST: "127.0.0.1",
    PORT: "0",
    RPC_PORT: "0",
    DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
    POLL_INTERVAL_MS: "100",
    ...options.env,
  };
  if ((options.database ?? "postgres") === "postgres" && !env.DATABASE_URL) {
    env.DATABASE_URL = await createTestDatabase(t);
  }
  const service = await startService(loadConfig(env), {
    ...(options.upstream ? { upstream: options.upstream } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  t.teardown(() => service.close());
  return service;
}

/** Moves the service's development chain clock to `timestamp` (evm_increaseTime + evm_mine). */
export async function advanceTo(provider: JsonRpcProvider, timestamp: bigint): Promise<void> {
  const latest = (await provider.getBlock("latest"))?.timestamp ?? 0;
  if (Number(timestamp) > latest) {
    await provider.send("evm_increaseTime", [Number(timestamp) - latest]);
    await provider.send("evm_mine", []);
  }
}

/**
 * Passes `actions` (draftProposal's ActionInput) through governance on a service built on its own
 * development chain, the way a community does: drafted through GraphQL, proposed, voted FOR by every
 * development holder, queued and executed; resolves once the index has the execution.
 */
export async function enact(service: Service, actions: ActionInput[]): Promise<string> {
  const id = await proposeDraft(service, actions);
  await passProposal(service, id);
  return id;
}

/** Resolves `proposalId` once the service's index has the proposal. */
export async function indexedProposal(service: Service, proposalId: string): Promise<string> {
  const api = createGraphqlClient(service.urls.http);
  await until(async () => {
    const { proposal } = await api.request(PROPOSAL, { id: proposalId });
    return proposal ?? undefined;
  }, `proposal ${proposalId} in the index`);
  return proposalId;
}

/** Drafts `actions` through GraphQL and proposes them from development holder #0, and waits for the index. */
export async function proposeDraft(service: Service, actions: ActionInput[]): Promise<string> {
  const provider = new JsonRpcProvider(service.urls.rpc, undefined, { cacheTimeout: -1, pollingInterval: 50 });
  try {
    const proposer = holderWallet(service, 0, provider);
    const api = createGraphqlClient(service.urls.http);
    const { draftProposal } = await api.request(DRAFT_PROPOSAL, {
      input: { description: `Test proposal ${Math.random()}`, actions, proposer: proposer.address },
    });
    const { to, data } = draftProposal.transaction;
    await send("proposing", () => proposer.sendTransaction({ to, data }));
    return await indexedProposal(service, BigInt(draftProposal.proposalId).toString());
  } finally {
    provider.destroy();
  }
}

/**
 * Takes proposal `id` (already proposed) through the vote (FOR from every development holder) and the
 * timelock; executes it unless `execute` is false, then resolves once the index has the last step.
 */
export async function passProposal(service: Service, proposalId: string, options: { execute?: boolean } = {}) {
  const holders = service.devChain?.holders ?? [];
  const provider = new JsonRpcProvider(service.urls.rpc, undefined, { cacheTimeout: -1, pollingInterval: 50 });
  try {
    const wallets = holders.map((h) => new Wallet(h.privateKey, provider));
    const proposer = wallets[0] as Wallet;
    const api = createGraphqlClient(service.urls.http);
    const id = BigInt(proposalId);
    const { deployment } = service.deps;
    const governor = contractInterface("governor");
    const read = async (fn: string) =>
      BigInt(
        governor.decodeFunctionResult(
          fn,
          await provider.call({ to: deployment.contracts.governor, data: governor.encodeFunctionData(fn, [id]) }),
        )[0],
      );
    await advanceTo(provider, (await read("proposalSnapshot")) + 1n);
    for (const w of wallets) await castVote(deployment, w, id, "FOR");
    await advanceTo(provider, (await read("proposalDeadline")) + 1n);
    const proposal = await until(async () => {
      const { proposal } = await api.request(PROPOSAL, { id: id.toString() });
      return proposal ?? undefined;
    }, "the proposal in the index");
    const queued = await queueProposal(deployment, proposer, proposal);
    await advanceTo(provider, await read("proposalEta"));
    const last = options.execute === false ? queued : await executeProposal(deployment, proposer, proposal);
    await until(async () => {
      const { syncStatus } = await api.request(SYNC_STATUS);
      return syncStatus.indexedBlock >= last.blockNumber ? true : undefined;
    }, "the index to have the proposal's last step");
  } finally {
    provider.destroy();
  }
}

/** The development holder `index` as a wallet on `provider`. */
export function holderWallet(service: Service, index: number, provider: JsonRpcProvider): Wallet {
  const holder = service.devChain?.holders[index];
  if (!holder) throw new Error(`the service has no development holder #${index}`);
  return new Wallet(holder.privateKey, provider);
}

/** An API key for the development holder `index`, through Sign-In with Ethereum. */
export async function apiKeyFor(service: Service, index = 0): Promise<IssuedKey> {
  const holder = service.devChain?.holders[index];
  if (!holder) throw new Error(`the service has no development holder #${index}`);
  return signInForApiKey(createGraphqlClient(service.urls.http), service.urls.http, new Wallet(holder.privateKey));
}
