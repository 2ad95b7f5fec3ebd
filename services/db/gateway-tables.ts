import type { ColumnType, Generated } from "kysely";
import type { BlockNumber } from "./index-tables.ts";

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/**
 * Token amounts and counters are bigint columns read as JS numbers: budgets are capped at 2^53 - 1
 * tokens when they leave the index (a grant that large is unlimited in practice).
 */
type Count = ColumnType<number, number | bigint | undefined, number | bigint>;

/** API keys: only sha256(key) is stored, with a short non-secret prefix to tell keys apart. */
export interface ApiKeysTable {
  id: string;
  key_hash: string;
  prefix: string;
  address: string;
  label: string | null;
  created_at: Timestamp;
  revoked_at: NullableTimestamp;
}

/**
 * What each budget account spent in one epoch: `account` is `grant:<id>`, `pool:<address>` (one
 * address's community allowance) or `pool` (the whole pool). `used + reserved <= budget_limit` always
 * holds: reservations are guarded updates on this row.
 */
export interface GatewayBudgetCountersTable {
  account: string;
  epoch_start: BlockNumber;
  budget_limit: Count;
  used: Count;
  reserved: Count;
}

/** Requests per consumer, model and minute (Unix seconds of the minute's start). */
export interface GatewayRateCountersTable {
  consumer: string;
  model_id: string;
  minute_start: BlockNumber;
  requests: Count;
}

/** The ledger: tokens charged per consumer, model, source and epoch. */
export interface GatewayUsageTable {
  consumer: string;
  model_id: string;
  /** grant | pool */
  source: string;
  /** The grant id; empty for the pool. */
  source_id: string;
  epoch_start: BlockNumber;
  tokens_used: Count;
  requests: Count;
}

export type DecisionOutcome = "REFUSED" | "PENDING" | "COMPLETED" | "UPSTREAM_ERROR" | "CLIENT_CLOSED";

/** The audit trail: one row per gateway decision, admitted or refused, written before the answer. */
export interface GatewayDecisionsTable {
  id: Generated<string>;
  request_id: string;
  consumer: string | null;
  api_key_id: string | null;
  endpoint: string;
  model_id: string;
  purpose: string | null;
  admitted: boolean;
  /** The refusal's reason code, or UPSTREAM_ERROR for an admitted call the upstream failed. */
  reason_code: string | null;
  policy_version: number | null;
  proposal_id: string | null;
  source: string | null;
  source_id: string | null;
  epoch_start: BlockNumber | null;
  tokens_reserved: Count;
  tokens_used: Count;
  outcome: DecisionOutcome;
  latency_ms: number | null;
  overhead_ms: number | null;
  created_at: Timestamp;
  settled_at: NullableTimestamp;
  /** The upstream provider that served the call, or failed it last (migrations/0019); null when none was tried. */
  provider: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Tables written by the gateway (migrations/0002_gateway.ts). */
export interface GatewayTables {
  api_keys: ApiKeysTable;
  gateway_budget_counters: GatewayBudgetCountersTable;
  gateway_rate_counters: GatewayRateCountersTable;
  gateway_usage: GatewayUsageTable;
  gateway_decisions: GatewayDecisionsTable;
}
