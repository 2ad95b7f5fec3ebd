import type { Wallet } from "ethers";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import apiPlugin from "./api/plugin.ts";
import type { ForkSimulator } from "./chain/fork-simulation.ts";
import gatewayPlugin from "./gateway/plugin.ts";
import type { Upstream } from "./gateway/upstream.ts";
import type { SyncStatus } from "./indexer/indexer.ts";
import { closeConnectionsWhenIdle } from "./ops/drain.ts";
import opsPlugin from "./ops/plugin.ts";
import { registerRequestHooks } from "./ops/request-hooks.ts";
import { requestIdOf } from "./ops/request-id.ts";
import type { Deps } from "./shared/deps.ts";

export interface ServerExtras {
  /** Relays castVoteBySig ballots; without it gasless voting answers RELAYER_NOT_CONFIGURED. */
  relayer?: Wallet;
  /** The gateway's model provider; without it one is made from the configuration. */
  upstream?: Upstream;
  /** This replica's indexer, for /metrics. */
  indexer?: { status(): SyncStatus };
  /** Runs proposals on a fork of the chain, for proposalImpact. */
  simulator?: ForkSimulator;
}

/**
 * The HTTP service: GraphQL (/graphql), the OpenAI-compatible gateway (/v1/*) and the operations routes,
 * each an encapsulated plugin with its own error handling; request ids, logging and request metrics
 * are shared by all. Not listening yet: the caller decides where.
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
  await app.register(opsPlugin, { deps, ...(extras.indexer ? { indexer: extras.indexer } : {}) });
  await app.register(apiPlugin, {
    deps,
    ...(extras.relayer ? { relayer: extras.relayer } : {}),
    ...(extras.simulator ? { simulator: extras.simulator } : {}),
  });
  await app.register(gatewayPlugin, { deps, ...(extras.upstream ? { upstream: extras.upstream } : {}) });
  return app;
}
