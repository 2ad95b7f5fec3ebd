import { readdirSync, readFileSync } from "node:fs";
import { type Kysely, sql } from "kysely";

const folder = new URL("./", import.meta.url);

/** The ledger's functions, one `.sql` source each (`create or replace`), in name order. */
const sources = readdirSync(folder)
  .filter((name) => name.endsWith(".sql"))
  .sort()
  .map((name) => ({ name, text: readFileSync(new URL(name, folder), "utf8") }));

/**
 * Defines the current version of every ledger function, after the migrations (which keep the tables'
 * shape and, once landed, the old versions they defined). Idempotent, in one transaction, under a lock:
 * replicas starting together do not replace a function under each other.
 */
// biome-ignore lint/suspicious/noExplicitAny: runs beside the migrations, on Kysely<any>
export async function installLedgerFunctions(db: Kysely<any>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('commons_ledger_functions'))`.execute(trx);
    for (const source of sources) await sql.raw(source.text).execute(trx);
  });
}
