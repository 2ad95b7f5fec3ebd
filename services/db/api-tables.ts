import type { ColumnType } from "kysely";

/** A Sign-In with Ethereum nonce: issued by `siweNonce`, deleted by the sign-in that uses it. */
export interface SiweNoncesTable {
  nonce: string;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
}

/** One quota counter: what `subject` used of `scope` in the window starting at `window_start`. */
export interface ApiQuotaCountersTable {
  scope: string;
  subject: string;
  window_start: ColumnType<Date, Date | string, Date | string>;
  /** numeric(78,0): read as a decimal string. */
  used: ColumnType<string, string | bigint, string | bigint>;
}

/** A ballot the relayer is sending or sent: one per proposal and voter. */
export interface RelayClaimsTable {
  proposal_id: ColumnType<string, string | bigint, string | bigint>;
  voter: string;
  claimed_at: ColumnType<Date, Date | string | undefined, Date | string>;
  tx_hash: string | null;
}

/** Tables written by the GraphQL API (migrations/0003_api.ts, 0011_api_quotas.ts). */
export interface ApiTables {
  siwe_nonces: SiweNoncesTable;
  api_quota_counters: ApiQuotaCountersTable;
  relay_claims: RelayClaimsTable;
}
