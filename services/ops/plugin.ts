import type { FastifyInstance } from "fastify";
import type { PublishedDeployment } from "../chain/deployment.ts";
import type { SyncStatus } from "../indexer/indexer.ts";
import type { Deps } from "../shared/deps.ts";
import { opsMetrics } from "./ops-metrics.ts";
import { createReadinessCheck } from "./readiness.ts";

export interface OpsOptions {
  deps: Pick<Deps, "database" | "config" | "metrics" | "now" | "deployment" | "provider">;
  /** The JSON-RPC URL clients are told to use; null publishes none. */
  publicRpcUrl: string | null;
  /** This replica's indexer, when it runs one: its lag and leadership go into /metrics. */
  indexer?: { status(): SyncStatus };
}

/**
 * Operations routes, encapsulated: GET /healthz (the process answers), GET /readyz (migrated and the
 * index within the staleness bound; 503 otherwise, with what is missing), GET /metrics (Prometheus text
 * from this instance's registry) and GET /deployment (the public contract addresses, the chain's
 * JSON-RPC URL and the deploy block's hash, which clients need to find and check the chain).
 */
export default async function opsPlugin(app: FastifyInstance, opts: OpsOptions) {
  const { deps, indexer, publicRpcUrl } = opts;
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

  // Asked once: a block that deep never changes. A failure is not remembered, so the next request asks again.
  let deployBlockHash: Promise<string | null> | undefined;
  app.get("/deployment", async (): Promise<PublishedDeployment> => {
    deployBlockHash ??= deps.provider.getBlock(deps.deployment.deployBlock).then(
      (block) => block?.hash ?? null,
      () => {
        deployBlockHash = undefined;
        return null;
      },
    );
    return { ...deps.deployment, rpcUrl: publicRpcUrl, deployBlockHash: await deployBlockHash };
  });
}
