import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * Every Prometheus metric of the service, on one registry per service instance (no global registry,
 * so tests and several instances in one process do not collide).
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    decisions: new Counter({
      name: "commons_gateway_decisions_total",
      help: "Gateway decisions by outcome and reason code",
      labelNames: ["decision", "reason", "model"] as const,
      registers,
    }),
    /** Gateway calls without a live API key: counted here, not audited (a flood of keys writes nothing). */
    unauthenticated: new Counter({
      name: "commons_gateway_unauthenticated_total",
      help: "Gateway calls refused for a missing, unknown or revoked API key",
      labelNames: ["reason"] as const,
      registers,
    }),
    overdraftTokens: new Counter({
      name: "commons_gateway_overdraft_tokens_total",
      help: "Tokens the upstream billed beyond what was reserved for the call (charged all the same)",
      labelNames: ["model"] as const,
      registers,
    }),
    gatewayOverhead: new Histogram({
      name: "commons_gateway_overhead_seconds",
      help: "Time the gateway adds to an AI call (decision, reservation, audit), without the upstream",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    upstreamLatency: new Histogram({
      name: "commons_upstream_duration_seconds",
      help: "Upstream AI call duration, by the provider that served it (or failed it last; none: none was tried)",
      labelNames: ["endpoint", "outcome", "provider"] as const,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    /** A provider failed a call before its first byte and the next one was tried (UPSTREAMS). */
    upstreamFallbacks: new Counter({
      name: "commons_upstream_fallbacks_total",
      help: "Calls a provider failed before its first byte, tried again on the next provider",
      labelNames: ["provider"] as const,
      registers,
    }),
    /** Shadow mode (policy/shadow.ts): evaluations that threw, recorded as failed and ignored. */
    shadowFailures: new Counter({
      name: "commons_gateway_shadow_failures_total",
      help: "Shadow decisions (under a queued proposal's policies) that failed; the live decision stood",
      registers,
    }),
    /** Notifications (notifications/delivery.ts), counted on the replica that delivers them. */
    notificationDeliveries: new Counter({
      name: "commons_notification_deliveries_total",
      help: "Notification delivery attempts by channel and result (delivered; failed: tried again later; dead: dead-lettered)",
      labelNames: ["channel", "result"] as const,
      registers,
    }),
    ledgerWrites: new Counter({
      name: "commons_ledger_writes_total",
      help: "Ledger writes by kind (reserve, settle, release)",
      labelNames: ["kind"] as const,
      registers,
    }),
    graphqlDuration: new Histogram({
      name: "commons_graphql_duration_seconds",
      help: "GraphQL request duration",
      labelNames: ["operation"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    indexLag: new Gauge({
      name: "commons_index_lag_blocks",
      help: "Blocks between the chain head and the indexed block",
      registers,
    }),
    indexedBlock: new Gauge({ name: "commons_indexed_block", help: "Last indexed block", registers }),
    rpcErrors: new Counter({
      name: "commons_rpc_errors_total",
      help: "JSON-RPC errors seen (each retried)",
      labelNames: ["method"] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
