import type { FastifyInstance } from "fastify";
import { pruneRateCounters } from "../db/ledger/client.ts";
import { minuteStartOf } from "../policy/decide.ts";
import type { Deps } from "../shared/deps.ts";
import { hashRequestBodies } from "./body-hash.ts";
import { registerChatRoute } from "./chat-route.ts";
import { registerEmbeddingsRoute } from "./embeddings-route.ts";
import { createEnforcer } from "./enforcer.ts";
import { createKeyCache } from "./key-cache.ts";
import { registerModelsRoute } from "./models-route.ts";
import { gatewayErrorHandler } from "./openai-errors.ts";
import { createPolicyStore } from "./policy-store.ts";
import { registerResponsesRoute } from "./responses-route.ts";
import { startLedgerSweeper } from "./sweeper.ts";
import { createUpstream, type Upstream } from "./upstream.ts";

/**
 * What the gateway uses of the dependency bag (a whole Deps fits). The deployment reads queued proposals'
 * calls for shadow mode; without it (a gateway alone, in its tests) nothing is shadowed.
 */
export type GatewayDeps = Pick<Deps, "config" | "logger" | "database" | "metrics" | "now"> &
  Partial<Pick<Deps, "deployment">>;

/** Per-minute counters older than this are deleted (they never count again). */
const RATE_COUNTER_RETENTION_MS = 10 * 60_000;

/**
 * The OpenAI-compatible enforcement gateway as an encapsulated fastify plugin: POST /v1/chat/completions
 * and POST /v1/responses (JSON or server-sent events), POST /v1/embeddings and GET /v1/models, each call
 * judged by the policies in force, metered in the ledger and audited. Without `upstream`, one is made
 * from the configuration (UPSTREAMS, UPSTREAM_URL, or the local development model) and closed with the app.
 */
export default async function gatewayPlugin(app: FastifyInstance, opts: { deps: GatewayDeps; upstream?: Upstream }) {
  const { deps } = opts;
  const { config } = deps;
  const upstream =
    opts.upstream ??
    createUpstream({
      providers: config.upstreams ?? undefined,
      url: config.UPSTREAM_URL,
      apiKey: config.UPSTREAM_API_KEY,
      timeoutMs: config.UPSTREAM_TIMEOUT_MS,
      onFallback: (provider, error) => {
        deps.metrics.upstreamFallbacks.inc({ provider });
        deps.logger.warn({ err: error, provider }, "a provider failed a call before its first byte; trying the next");
      },
    });
  const store = await createPolicyStore(deps);
  const keys = await createKeyCache(deps.database);
  const enforcer = createEnforcer(deps, store, keys);

  const prune = setInterval(() => {
    pruneRateCounters(deps.database.db, minuteStartOf(deps.now() - RATE_COUNTER_RETENTION_MS)).catch((error: unknown) =>
      deps.logger.warn({ err: error }, "pruning rate counters failed"),
    );
  }, 60_000);
  prune.unref();
  const stopSweeper = startLedgerSweeper(deps);
  app.addHook("onClose", async () => {
    clearInterval(prune);
    await stopSweeper();
    await enforcer.close();
    await store.stop();
    await keys.stop();
    if (!opts.upstream) await upstream.close();
  });

  app.setErrorHandler(gatewayErrorHandler);
  const hashBodies = deps.config.RECEIPT_BODY_HASHES;
  if (hashBodies) hashRequestBodies(app);
  const forwarding = { enforcer, upstream, metrics: deps.metrics, hashBodies };
  registerChatRoute(app, forwarding);
  registerEmbeddingsRoute(app, forwarding);
  registerResponsesRoute(app, forwarding);
  registerModelsRoute(app, { enforcer, store, now: deps.now });
  deps.logger.info({ upstream: upstream.label }, "gateway ready");
}
