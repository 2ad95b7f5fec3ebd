import type { Wallet } from "ethers";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import apiPlugin from "./api/plugin.ts";
import type { ForkSimulator } from "./chain/fork-simulation.ts";
import gatewayPlugin from "./gateway/plugin.ts";
import type { Upstream } from "./gateway/upstream.ts";
import type { SyncStatus } from "./indexer/indexer.ts";
import notificationRoutes from "./notifications/routes.ts";
import type { Subscriptions } from "./notifications/subscriptions.ts";
import { closeConnectionsWhenIdle } from "./ops/drain.ts";
import { opsMetrics } from "./ops/ops-metrics.ts";
import opsPlugin from "./ops/plugin.ts";
import { registerRequestHooks } from "./ops/request-hooks.ts";
import { requestIdOf } from "./ops/request-id.ts";
import type { Deps } from "./shared/deps.ts";
import webPlugin from "./web/plugin.ts";

export interface ServerExtras {
  /** Relays castVoteBySig ballots; without it gasless voting answers RELAYER_NOT_CONFIGURED. */
  relayer?: Wallet;
  /** The gateway's model provider; without it one is made from the configuration. */
  upstream?: Upstream;
  /** This replica's indexer, for /metrics. */
  indexer?: { status(): SyncStatus };
  /**
   * The chain's JSON-RPC URL published in GET /deployment and offered by the web app to wallets that do
   * not know the chain; none by default.
   */
  publicRpcUrl?: string;
  /** Runs proposals on a fork of the chain, for proposalImpact. */
  simulator?: ForkSimulator;
  /** Notification subscriptions (GraphQL and the email links); without them those answer NOT_FOUND. */
  subscriptions?: Subscriptions;
}

/**
 * The HTTP service: GraphQL (/graphql), the OpenAI-compatible gateway (/v1/*), the operations routes and
 * the web app (/ and its pages), each an encapsulated plugin with its own error handling; request ids,
 * logging and request metrics are shared by all. Not listening yet: the caller decides where.
 */
export async function buildServer(deps: Deps, extras: ServerExtras = {}): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: requestIdOf,
    // Calls in flight finish on close; idle keep-alive connections are closed at once.
    forceCloseConnections: "idle",
    return503OnClosing: true,
    // X-Forwarded-For names the client only behind a proxy the operator named; otherwise anyone could.
    trustProxy: config.TRUST_PROXY ?? false,
    // A client that trickles its headers or body byte by byte is cut off, not waited for.
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeout: config.HTTP_IDLE_TIMEOUT_MS,
    http: {
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      // Node checks those two timeouts only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, config.HTTP_HEADERS_TIMEOUT_MS),
    },
  });
  app.server.maxConnections = config.HTTP_MAX_CONNECTIONS;
  const { droppedConnections } = opsMetrics(deps.metrics.registry);
  app.server.on("drop", () => droppedConnections.inc());
  registerRequestHooks(app, deps.metrics.registry);
  closeConnectionsWhenIdle(app);
  await app.register(opsPlugin, {
    deps,
    publicRpcUrl: extras.publicRpcUrl ?? null,
    ...(extras.indexer ? { indexer: extras.indexer } : {}),
  });
  await app.register(apiPlugin, {
    deps,
    ...(extras.relayer ? { relayer: extras.relayer } : {}),
    ...(extras.simulator ? { simulator: extras.simulator } : {}),
    ...(extras.subscriptions ? { subscriptions: extras.subscriptions } : {}),
  });
  if (extras.subscriptions) await app.register(notificationRoutes, { subscriptions: extras.subscriptions });
  await app.register(gatewayPlugin, { deps, ...(extras.upstream ? { upstream: extras.upstream } : {}) });
  await app.register(webPlugin, extras.publicRpcUrl ? { publicRpcUrl: extras.publicRpcUrl } : {});
  return app;
}
