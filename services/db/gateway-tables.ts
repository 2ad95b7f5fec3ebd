import type { ColumnType, Generated } from "kysely";
import type { BlockNumber } from "./index-tables.ts";

export type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/**
 * Token amounts and counters are bigint columns read as JS numbers: budgets are capped at 2^53 - 1
 * tokens when they leave the index (a grant that large is unlimited in practice).
 */
export type Count = ColumnType<number, number | bigint | undefined, number | bigint>;

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

export type DecisionOutcome = "REFUSED" | "PENDING" | "COMPLETED" | "UPSTREAM_ERROR" | "CLIENT_CLOSED" | "SWEPT";

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
  /** The prompt estimate the decision reserved for; null in records older than migration 0016. */
  prompt_tokens: number | null;
  /** max_tokens as the call asked, null when it asked none (or older than 0016, see prompt_tokens). */
  max_tokens: number | null;
  /** Completions asked for (OpenAI's `n`); null: one (or older than 0016). */
  choices: number | null;
  /** The consumer's voting power at the epoch's start the pool's rule was judged on; null: not loaded. */
  pool_epoch_start: string | number | null;
  /** uint256 as a decimal string. */
  pool_votes: string | null;
  /** The clock the decision used (its epoch and minute); null in records older than migration 0016. */
  decided_at: NullableTimestamp;
  /** The upstream provider that served the call, or failed it last (migrations/0019); null when none was tried. */
  provider: ColumnType<string | null, string | null | undefined, string | null>;
  /** What a receipt names beyond the rest (migrations/0022): completion tokens billed, sha256 of the bodies. */
  completion_tokens: ColumnType<number | null, number | null | undefined, number | null>;
  request_hash: ColumnType<string | null, string | null | undefined, string | null>;
  response_hash: ColumnType<string | null, string | null | undefined, string | null>;
  /** 32 random bytes (0x-hex) that seal the record's receipt (migrations/0025); drawn by the column's default. */
  receipt_salt: ColumnType<string, string | undefined, string>;
  /**
   * Shadow mode (migrations/0021): the call decided under the policies of each proposal queued at the time,
   * by proposal id; null when none was queued.
   */
  shadow: ColumnType<ShadowDecisions | null, ShadowDecisions | null | undefined, ShadowDecisions | null>;
}

/**
 * One shadow decision: `o` is ADMITTED or the reason code of the refusal, null when the evaluation failed;
 * `t` the tokens an admission would have reserved.
 */
export interface ShadowDecision {
  o: string | null;
  t?: number;
}

export type ShadowDecisions = Record<string, ShadowDecision>;

/**
 * Tables written by the gateway (migrations/0002_gateway.ts): API keys and the audit trail. The ledger's
 * own tables are in ledger/tables.ts.
 */
export interface GatewayTables {
  api_keys: ApiKeysTable;
  gateway_decisions: GatewayDecisionsTable;
}
