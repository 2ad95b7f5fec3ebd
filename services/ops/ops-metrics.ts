import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * Metrics that belong to the server as a whole rather than to one part: the duration of every HTTP
 * request, connections dropped at the cap, and whether this replica is the indexing leader. Made once per registry, so that building
 * several servers on one metrics bag (tests) does not register them twice.
 */
export function opsMetrics(registry: Registry) {
  const httpDuration = "commons_http_request_duration_seconds";
  const leader = "commons_indexer_leader";
  const dropped = "commons_http_connections_dropped_total";
  return {
    droppedConnections:
      (registry.getSingleMetric(dropped) as Counter | undefined) ??
      new Counter({
        name: dropped,
        help: "Connections dropped on arrival because HTTP_MAX_CONNECTIONS were open",
        registers: [registry],
      }),
    httpDuration:
      (registry.getSingleMetric(httpDuration) as Histogram<"method" | "route" | "status"> | undefined) ??
      new Histogram({
        name: httpDuration,
        help: "HTTP request duration by route and status (whole request, upstream included)",
        labelNames: ["method", "route", "status"] as const,
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
    indexerLeader:
      (registry.getSingleMetric(leader) as Gauge | undefined) ??
      new Gauge({
        name: leader,
        help: "1 while this replica holds the indexer's leader lock, else 0",
        registers: [registry],
      }),
  };
}
