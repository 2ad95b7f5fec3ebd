import { type Kysely, sql } from "kysely";

/**
 * Private receipts (services/receipts/encoding.ts). A receipt's leaf now commits to its consumer, request id,
 * times, budget and bodies' hashes through `sealed = keccak256(abi.encode(salt, ...))`, so a period's public
 * file names no one. The salt is 32 random bytes of each audit record: the column's default draws it when
 * the record is written (the gateway's statements name their columns, so they need no change), and adding
 * the column draws one for every record written before (a volatile default is evaluated per row).
 * gen_random_uuid() is Postgres' own strong random source (no extension, and PGlite has it): two of them
 * give 244 random bits.
 *
 * usage_periods.format says which encoding built a period's tree: 1 for the periods stored before this
 * migration (their leaves named the consumer in the clear), 2 from now on. The periods only built after the
 * last one sent are dropped instead, so that the anchorer (which builds from the newest stored period on)
 * builds them again in format 2; one sent or anchored keeps its root (the chain has it, or may have it), and
 * its file is no longer served.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("gateway_decisions")
    .addColumn("receipt_salt", "text", (c) =>
      c
        .notNull()
        .defaultTo(sql`'0x' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')`),
    )
    .execute();
  await db.schema
    .alterTable("usage_periods")
    .addColumn("format", "smallint", (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema
    .alterTable("usage_periods")
    .alterColumn("format", (c) => c.setDefault(2))
    .execute();
  await sql`delete from usage_periods where state = 'built'
    and period > coalesce((select max(period) from usage_periods where state <> 'built'), -1)`.execute(db);
}
