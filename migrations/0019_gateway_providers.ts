import { type Kysely, sql } from "kysely";

/**
 * Several upstream providers: each audit record names the provider that served its call (or the last one
 * that failed it), as the gateway's configuration names it (UPSTREAMS). The settlement writes it, as the
 * gateway only knows then: `gateway_settle` takes it as a new last argument (services/db/ledger/), so
 * the one without it is dropped here and the ledger's sources define the new one after the migrations.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("gateway_decisions").addColumn("provider", "text").execute();
  await sql`drop function if exists gateway_settle(
    text, jsonb, text, bigint, text, text, text, text, text[], bigint, bigint, bigint, text, double precision,
    double precision)`.execute(db);
}
