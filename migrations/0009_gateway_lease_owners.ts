import { type Kysely, sql } from "kysely";

/**
 * Budget slices (0007) get an owner and an expiry, so that what a replica that died (or lost its
 * database for longer than the expiry) leased goes back: `gateway_leases` holds, per replica (`owner`)
 * and per guarded row, what the replica leased and has not yet charged or given back. A budget slice is
 * keyed by (account, epoch_start), a per-minute slice by (consumer, model_id, minute_start); the other
 * half of the key is empty. The counters keep counting the slice as reserved (the guard is unchanged);
 * this table says whose it is and until when.
 *
 * The partial index finds audit records left PENDING (a settlement that never came) without scanning
 * the audit trail: settled records leave it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("gateway_leases")
    .addColumn("owner", "text", (c) => c.notNull())
    .addColumn("account", "text", (c) => c.notNull())
    .addColumn("epoch_start", "bigint", (c) => c.notNull())
    .addColumn("consumer", "text", (c) => c.notNull())
    .addColumn("model_id", "text", (c) => c.notNull())
    .addColumn("minute_start", "bigint", (c) => c.notNull())
    .addColumn("tokens", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("requests", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("gateway_leases_pk", [
      "owner",
      "account",
      "epoch_start",
      "consumer",
      "model_id",
      "minute_start",
    ])
    .addCheckConstraint("gateway_leases_nonnegative", sql`tokens >= 0 and requests >= 0`)
    .execute();
  await db.schema.createIndex("gateway_leases_expiry_idx").on("gateway_leases").column("expires_at").execute();
  await sql`create index gateway_decisions_pending_idx on gateway_decisions (created_at) where outcome = 'PENDING'`.execute(
    db,
  );
}
