import type { Count, Timestamp } from "../gateway-tables.ts";
import type { BlockNumber } from "../index-tables.ts";

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

/** SWEPT: left PENDING past the upstream's timeout and charged its worst case by gateway_sweep. */
/**
 * What a replica (`owner`) leased from the guarded rows and has not charged or given back yet (0009): a
 * budget slice keyed by (account, epoch_start), or a per-minute slice keyed by (consumer, model_id,
 * minute_start), the other half of the key empty. Renewed while held; past `expires_at` it is reclaimed.
 */
export interface GatewayLeasesTable {
  owner: string;
  account: string;
  epoch_start: BlockNumber;
  consumer: string;
  model_id: string;
  minute_start: BlockNumber;
  tokens: Count;
  requests: Count;
  expires_at: Timestamp;
}

/**
 * The ledger's tables (migrations/0002_gateway.ts, 0009 for the leases). The audit trail it settles
 * (`gateway_decisions`) is the gateway's: see gateway-tables.ts.
 */
export interface LedgerTables {
  gateway_budget_counters: GatewayBudgetCountersTable;
  gateway_rate_counters: GatewayRateCountersTable;
  gateway_usage: GatewayUsageTable;
  gateway_leases: GatewayLeasesTable;
}
