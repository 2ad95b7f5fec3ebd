import type { FastifyInstance } from "fastify";
import type { Deployment } from "../chain/deployment.ts";
import type { SyncStatus } from "../indexer/indexer.ts";
import type { Deps } from "../shared/deps.ts";
import { opsMetrics } from "./ops-metrics.ts";
import { createReadinessCheck } from "./readiness.ts";

export interface OpsOptions {
  deps: Pick<Deps, "database" | "config" | "metrics" | "now" | "deployment">;
  /** This replica's indexer, when it runs one: its lag and leadership go into /metrics. */
  indexer?: { status(): SyncStatus };
}

/**
 * Operations routes, encapsulated: GET /healthz (the process answers), GET /readyz (migrated and the
 * index within the staleness bound; 503 otherwise, with what is missing), GET /metrics (Prometheus text
 * from this instance's registry) and GET /deployment (the public contract addresses clients need).
 */
export default async function opsPlugin(app: FastifyInstance, opts: OpsOptions) {
  const { deps, indexer } = opts;
  const readiness = createReadinessCheck(deps);
  const { indexerLeader } = opsMetrics(deps.metrics.registry);

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const result = await readiness();
    return reply.code(result.ready ? 200 : 503).send(result);
  });

  app.get("/metrics", async (_request, reply) => {
    if (indexer) {
      const status = indexer.status();
      deps.metrics.indexLag.set(status.lag);
      deps.metrics.indexedBlock.set(status.indexedBlock);
      indexerLeader.set(status.leader ? 1 : 0);
    }
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.get("/deployment", async (): Promise<Deployment> => deps.deployment);
}
