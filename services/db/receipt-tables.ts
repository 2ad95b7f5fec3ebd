import type { ColumnType } from "kysely";
import type { Count, Timestamp } from "./gateway-tables.ts";

type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;

/** Where a period's anchoring stands: built (tree stored, nothing sent), sent (transaction out), anchored (mined). */
export type PeriodState = "built" | "sent" | "anchored";

/** One anchoring period (migrations/0022): its tree, totals and transaction. */
export interface UsagePeriodsTable {
  period: Count;
  starts_at: Timestamp;
  ends_at: Timestamp;
  /** 0x-prefixed bytes32. */
  root: string;
  receipt_count: Count;
  total_tokens: Count;
  /** The whole Merkle tree, 32 bytes a node (services/receipts/tree.ts). */
  nodes: Uint8Array;
  totals: ColumnType<PeriodTotals, string, string>;
  uri: string;
  state: PeriodState;
  tx_hash: Nullable<string>;
  tx_nonce: Nullable<number>;
  /** The signed transaction, sent again as is when a reorg or a lost broadcast dropped it. */
  tx_raw: Nullable<string>;
  block_number: Nullable<number>;
  block_hash: Nullable<string>;
  built_at: Timestamp;
  anchored_at: Nullable<Date>;
  /** The receipt encoding that built the tree (migrations/0025): 1 named consumers in the clear, 2 seals them. */
  format: ColumnType<number, number | undefined, number>;
}

/** Tokens charged and calls per model and per budget source, in one period. */
export interface PeriodTotals {
  models: { model: string; calls: number; tokens: string }[];
  sources: { source: string; calls: number; tokens: string }[];
}

export interface ReceiptTables {
  usage_periods: UsagePeriodsTable;
}
