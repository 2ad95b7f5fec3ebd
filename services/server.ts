import type { Wallet } from "ethers";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import apiPlugin from "./api/plugin.ts";
import gatewayPlugin from "./gateway/plugin.ts";
import type { Upstream } from "./gateway/upstream.ts";
import type { SyncStatus } from "./indexer/indexer.ts";
import { closeConnectionsWhenIdle } from "./ops/drain.ts";
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
}

/**
 * The HTTP service: GraphQL (/graphql), the OpenAI-compatible gateway (/v1/*), the operations routes and
 * the web app (/ and its pages), each an encapsulated plugin with its own error handling; request ids,
 * logging and request metrics are shared by all. Not listening yet: the caller decides where.
 */
export async function buildServer(deps: Deps, extras: ServerExtras = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: requestIdOf,
    // Calls in flight finish on close; idle keep-alive connections are closed at once.
    forceCloseConnections: "idle",
    return503OnClosing: true,
  });
  registerRequestHooks(app, deps.metrics.registry);
  closeConnectionsWhenIdle(app);
  await app.register(opsPlugin, {
    deps,
    publicRpcUrl: extras.publicRpcUrl ?? null,
    ...(extras.indexer ? { indexer: extras.indexer } : {}),
  });
  await app.register(apiPlugin, { deps, ...(extras.relayer ? { relayer: extras.relayer } : {}) });
  await app.register(gatewayPlugin, { deps, ...(extras.upstream ? { upstream: extras.upstream } : {}) });
  await app.register(webPlugin, extras.publicRpcUrl ? { publicRpcUrl: extras.publicRpcUrl } : {});
  return app;
}
