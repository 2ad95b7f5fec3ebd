import type { ColumnType } from "kysely";

/** A Sign-In with Ethereum nonce: issued by `siweNonce`, deleted by the sign-in that uses it. */
export interface SiweNoncesTable {
  nonce: string;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
}

/** Tables written by the GraphQL API (migrations/0003_api.ts). */
export interface ApiTables {
  siwe_nonces: SiweNoncesTable;
}
