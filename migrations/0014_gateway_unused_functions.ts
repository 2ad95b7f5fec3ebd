import { type Kysely, sql } from "kysely";

/**
 * The ledger's functions are defined by their sources in services/db/ledger/*.sql, applied after the
 * migrations. These versions from earlier migrations are called by nothing any more: the one-call
 * settlements (0004, 0005, 0008: gateway_settle now takes a lease and settles each record once, so it
 * has other arguments), the guard's inner functions (0004: gateway_admit no longer nests them), and the
 * leases without an owner (0007).
 */
export async function up(db: Kysely<any>): Promise<void> {
  for (const signature of [
    "gateway_take(text, bigint, bigint, bigint)",
    "gateway_reserve(text, text, bigint, bigint, bigint, bigint, text[], bigint[], bigint[], jsonb)",
    "gateway_settle(text, text, text, text, text, text[], bigint, bigint, bigint, text, double precision, double precision)",
    "gateway_settle_returning(text, text, text, text, text, text[], bigint, bigint, bigint, text, double precision, double precision)",
    "gateway_settle_recorded(jsonb, text, text, text, text, text[], bigint, bigint, bigint, text, double precision, double precision)",
    "gateway_lease(text, text, bigint, bigint, bigint, bigint, text, bigint, bigint, bigint, bigint)",
    "gateway_lease_return(text, text, bigint, bigint, text, bigint, bigint)",
  ]) {
    await sql.raw(`drop function if exists ${signature}`).execute(db);
  }
}
