import type { Insertable, Transaction } from "kysely";
import type { Database } from "../db/schema.ts";

/** Postgres caps a statement at 65535 bind parameters; stay well below it. */
const MAX_PARAMS = 30_000;

/** Inserts many rows in as few statements as the parameter limit allows. */
export async function insertMany<T extends keyof Database & string>(
  trx: Transaction<Database>,
  table: T,
  rows: Insertable<Database[T]>[],
): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0] as object).length;
  const size = Math.max(1, Math.floor(MAX_PARAMS / columns));
  for (let i = 0; i < rows.length; i += size) {
    await trx
      .insertInto(table)
      // biome-ignore lint/suspicious/noExplicitAny: Kysely cannot relate a generic table name to its row type
      .values(rows.slice(i, i + size) as any)
      .execute();
  }
}
