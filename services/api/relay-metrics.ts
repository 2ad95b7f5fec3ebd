import { Counter, Gauge, type Registry } from "prom-client";
import type { Config } from "../shared/config.ts";
import { isAppError } from "../shared/errors.ts";

/** The label a refused relay is counted under: the refusal's reason, else its code. */
function refusalReason(error: unknown): string {
  if (!isAppError(error)) return "INTERNAL";
  const reason = error.details?.reason;
  return typeof reason === "string" ? reason : error.code;
}

/**
 * The relayer in /metrics: what it relayed and refused (by reason), what it spent today on every replica
 * (as last counted by this one), and the limits it runs under. Made once per registry, like ops-metrics.
 */
export function relayMetrics(registry: Registry, config: Config) {
  const names = {
    relays: "commons_relay_requests_total",
    spent: "commons_relay_spent_wei_today",
    limits: "commons_relay_limit",
  };
  const relays =
    (registry.getSingleMetric(names.relays) as Counter<"mutation" | "outcome" | "reason"> | undefined) ??
    new Counter({
      name: names.relays,
      help: "Relay requests (castVoteBySig, delegateBySig, relayTransaction) by outcome (relayed, refused) and refusal reason",
      labelNames: ["mutation", "outcome", "reason"] as const,
      registers: [registry],
    });
  const spent =
    (registry.getSingleMetric(names.spent) as Gauge | undefined) ??
    new Gauge({
      name: names.spent,
      help: "Gas (limit times price, in wei) the relayer has committed today, all replicas together",
      registers: [registry],
    });
  const limits =
    (registry.getSingleMetric(names.limits) as Gauge<"limit"> | undefined) ??
    new Gauge({
      name: names.limits,
      help: "The relayer's limits: per_account_per_day, per_client_per_day, spend_wei_per_day, min_voting_power, max_reason_bytes",
      labelNames: ["limit"] as const,
      registers: [registry],
    });
  limits.set({ limit: "per_account_per_day" }, config.RELAY_PER_VOTER_PER_DAY);
  limits.set({ limit: "per_client_per_day" }, config.RELAY_PER_CLIENT_PER_DAY);
  limits.set({ limit: "spend_wei_per_day" }, Number(config.RELAY_MAX_SPEND_WEI_PER_DAY));
  limits.set({ limit: "min_voting_power" }, Number(config.RELAY_MIN_VOTING_POWER));
  limits.set({ limit: "max_reason_bytes" }, config.RELAY_MAX_REASON_BYTES);
  return {
    spent,
    /** Runs one relay request and counts it as relayed, or refused with its reason. */
    async count<T>(
      mutation: "castVoteBySig" | "delegateBySig" | "relayTransaction",
      relay: () => Promise<T>,
    ): Promise<T> {
      try {
        const result = await relay();
        relays.inc({ mutation, outcome: "relayed", reason: "" });
        return result;
      } catch (error) {
        relays.inc({ mutation, outcome: "refused", reason: refusalReason(error) });
        throw error;
      }
    },
  };
}

export type RelayMetrics = ReturnType<typeof relayMetrics>;
