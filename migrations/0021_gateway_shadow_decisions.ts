import { type Kysely, sql } from "kysely";

/**
 * Shadow mode (issue 14): while proposals are queued in the timelock, the gateway decides each call under
 * the policies in force (enforced) and under the policies each queued proposal will bring (recorded
 * only). `shadow` keeps the second kind beside the first, in the same audit record: a JSON object keyed by
 * proposal id, `{"<proposalId>": {"o": "ADMITTED" | <reason code> | null, "t"?: <tokens reserved>}}`,
 * `o` null when the shadow evaluation failed (the call was decided live all the same), `t` the worst case
 * the shadow decision would have reserved for a call it admits. Null when nothing was queued.
 *
 * The ledger's functions (services/db/ledger/*.sql) insert it from the record the gateway sends, as they do
 * the other columns: their arguments do not change, so no function is dropped here.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("gateway_decisions").addColumn("shadow", "jsonb").execute();
  // proposalImpact reads what shadow mode observed of one proposal (`shadow ? '<id>'`); records written
  // while nothing is queued, most of them, stay out of the index.
  await sql`create index gateway_decisions_shadow_idx on gateway_decisions using gin (shadow)
    where shadow is not null`.execute(db);
}
