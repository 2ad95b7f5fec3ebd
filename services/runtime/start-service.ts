import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { Wallet } from "ethers";
import type { FastifyInstance } from "fastify";
import { createAnchorer } from "../anchoring/anchorer.ts";
import { type Deployment, readDeployment, writeDeployment } from "../chain/deployment.ts";
import { createForkSimulator } from "../chain/fork-simulation.ts";
import { type DatabaseHandle, openDatabase } from "../db/connection.ts";
import { migrateToLatest } from "../db/migrate.ts";
import type { Upstream } from "../gateway/upstream.ts";
import { createIndexer, type Indexer } from "../indexer/indexer.ts";
import { createNotifications, type Notifications } from "../notifications/notifications.ts";
import { buildServer } from "../server.ts";
import type { Config } from "../shared/config.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors.ts";
import { createLogger, type Logger } from "../shared/logger.ts";
import { createMetrics } from "../shared/metrics.ts";
import { type DevChain, startDevChain } from "./dev-chain.ts";
import { assertPortFree } from "./port.ts";
import { createRpcProvider } from "./rpc-provider.ts";
import { assertIndexMatches, dataPaths, openFreshDevDatabase } from "./storage.ts";

export interface ServiceUrls {
  http: string;
  graphql: string;
  graphiql: string;
  /** OpenAI-compatible base URL (…/v1). */
  gateway: string;
  rpc: string;
}

export interface Service {
  app: FastifyInstance;
  urls: ServiceUrls;
  deps: Deps;
  indexer: Indexer;
  /** Set when the service runs its own development chain. */
  devChain: DevChain | undefined;
  deploymentFile: string;
  relayer: string | undefined;
  /** Unset when NOTIFICATIONS is off. */
  notifications: Notifications | undefined;
  /** Stops serving (calls in flight finish), then the indexer, the database and the chain. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** The gateway's model providers; by default UPSTREAMS, UPSTREAM_URL or the local development model. */
  upstream?: Upstream;
  now?: () => number;
}

function urlOf(address: AddressInfo): string {
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/**
 * Starts the whole service from its configuration: the chain (the in-process development chain, or
 * RPC_URL with DEPLOYMENT_FILE), the database (PGlite in DATA_DIR, or DATABASE_URL) migrated to the
 * latest schema, the indexer under leader election, and the HTTP server on HOST:PORT.
 */
export async function startService(config: Config, options: StartOptions = {}): Promise<Service> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse().splice(0)) {
      await close().catch((error: unknown) => logger.error({ err: error }, "shutdown step failed"));
    }
  };

  try {
    await assertPortFree(config.HOST, config.PORT, "PORT");
    let devChain: DevChain | undefined;
    let deployment: Deployment;
    let deploymentFile: string;
    let rpcUrl: string;
    if (config.RPC_URL) {
      rpcUrl = config.RPC_URL;
      deploymentFile = config.DEPLOYMENT_FILE as string;
      deployment = readDeployment(deploymentFile);
    } else {
      devChain = await startDevChain({ host: config.HOST, port: config.RPC_PORT });
      closers.push(() => (devChain as DevChain).close());
      rpcUrl = devChain.rpcUrl;
      deployment = devChain.deployment;
      await mkdir(dataPaths(config.DATA_DIR).devChain, { recursive: true });
      deploymentFile = dataPaths(config.DATA_DIR).devDeployment;
      writeDeployment(deploymentFile, deployment);
    }

    const provider = createRpcProvider(rpcUrl, deployment.chainId, metrics);
    closers.push(async () => provider.destroy());
    await assertChainId(provider.send("eth_chainId", []), deployment, rpcUrl);

    const database = await openServiceDatabase(config, devChain !== undefined);
    closers.push(() => database.close());
    await migrateToLatest(database.db);
    await assertIndexMatches(database, { chainId: deployment.chainId, fresh: devChain !== undefined });

    const deps: Deps = { config, logger, database, provider, deployment, metrics, now: options.now ?? Date.now };
    const notifications = config.NOTIFICATIONS ? createNotifications(deps) : undefined;
    const indexer = createIndexer({
      ...(notifications ? { outbox: notifications.outbox } : {}),
      database,
      provider,
      deployment,
      confirmations: config.CONFIRMATIONS,
      pollIntervalMs: config.POLL_INTERVAL_MS,
      logger: logger.child({ component: "indexer" }),
    });
    await indexer.start();
    closers.push(() => indexer.stop());
    // A fresh development chain is a few blocks long: index it before serving, so the first call sees it.
    if (devChain) await indexer.waitForBlock();

    const relayerKey = config.RELAYER_PRIVATE_KEY ?? devChain?.relayer.privateKey;
    const relayer = relayerKey ? new Wallet(relayerKey, provider) : undefined;
    const simulator = createForkSimulator({
      rpcUrl,
      deployment,
      blockNumber: () => provider.getBlockNumber(),
      timeoutMs: config.IMPACT_SIMULATION_TIMEOUT_MS,
    });
    // RPC_URL is never published: it may carry a provider key. The development chain's URL is public.
    const publicRpcUrl = config.PUBLIC_RPC_URL ?? devChain?.rpcUrl;
    const app = await buildServer(deps, {
      indexer,
      simulator,
      ...(notifications ? { subscriptions: notifications.subscriptions } : {}),
      ...(publicRpcUrl ? { publicRpcUrl } : {}),
      ...(relayer ? { relayer } : {}),
      ...(options.upstream ? { upstream: options.upstream } : {}),
      ...(devChain ? { publicRpcUrl: devChain.rpcUrl } : {}),
    });
    closers.push(() => app.close());
    await app.listen({ host: config.HOST, port: config.PORT });
    const http = urlOf(app.server.address() as AddressInfo);
    // Webhooks and emails go out from whichever replica holds the deliverer's lock, off the request path.
    if (notifications) {
      notifications.listening(http);
      closers.push(() => notifications.close());
    }

    // Usage receipts are anchored by whichever replica holds the anchorer's lock, off the request path.
    const anchorKey = config.ANCHOR_PRIVATE_KEY ?? devChain?.anchorer.privateKey;
    if (anchorKey && deployment.usageAnchor) {
      const anchorer = createAnchorer({
        database,
        provider,
        deployment,
        wallet: new Wallet(anchorKey, provider),
        periodMs: config.ANCHOR_PERIOD_S * 1000,
        delayMs: config.ANCHOR_DELAY_MS,
        uriBase: config.ANCHOR_URI_BASE ?? http,
        confirmations: config.CONFIRMATIONS,
        now: deps.now,
        logger: logger.child({ component: "anchorer" }),
        intervalMs: config.POLL_INTERVAL_MS,
      });
      anchorer.start();
      closers.push(() => anchorer.stop());
    }

    return {
      app,
      urls: { http, graphql: `${http}/graphql`, graphiql: `${http}/graphiql`, gateway: `${http}/v1`, rpc: rpcUrl },
      deps,
      indexer,
      devChain,
      deploymentFile,
      relayer: relayer?.address,
      notifications,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * DATABASE_URL, or PGlite: the development chain's own (emptied, since the chain is new: never an index
 * of an earlier chain), or the one in DATA_DIR/pglite that a real chain's index is kept in.
 */
async function openServiceDatabase(config: Config, devChain: boolean): Promise<DatabaseHandle> {
  if (config.DATABASE_URL) return openDatabase({ url: config.DATABASE_URL });
  if (devChain) return openFreshDevDatabase(config.DATA_DIR);
  const folder = dataPaths(config.DATA_DIR).pglite;
  await mkdir(folder, { recursive: true });
  return openDatabase({ dataDir: folder });
}

async function assertChainId(answer: Promise<unknown>, deployment: Deployment, rpcUrl: string): Promise<void> {
  let chainId: number;
  try {
    chainId = Number(BigInt(String(await answer)));
  } catch (cause) {
    // The host only: RPC URLs often carry an API key in their path.
    throw new AppError("RPC_ERROR", `cannot reach the chain at ${new URL(rpcUrl).host}`, { cause });
  }
  if (chainId !== deployment.chainId) {
    throw new AppError(
      "CONFIG_INVALID",
      `RPC_URL serves chain ${chainId}, but the deployment file is for chain ${deployment.chainId}`,
    );
  }
}
