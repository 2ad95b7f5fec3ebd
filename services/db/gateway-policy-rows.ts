import type { Kysely, Selectable } from "kysely";
import type {
  CommunityPoolVersionsTable,
  GrantsTable,
  IndexerCheckpointTable,
  PolicyVersionsTable,
  PoolEligibilityVersionsTable,
} from "./index-tables.ts";
import type { Database } from "./schema.ts";

/** The index rows a policy snapshot is built from (services/policy/snapshot.ts buildSnapshot). */
export interface PolicyRows {
  /** The newest version of every model. */
  policies: Selectable<PolicyVersionsTable>[];
  /** Grants not revoked. */
  grants: Selectable<GrantsTable>[];
  /** The community pool in force, if the index has seen one. */
  pool: Selectable<CommunityPoolVersionsTable> | null;
  /** The pool's minimum voting power in force, if the index has seen one. */
  poolEligibility: Selectable<PoolEligibilityVersionsTable> | null;
  checkpoint: Selectable<IndexerCheckpointTable> | null;
}

/** Reads everything a policy decision needs, in one repeatable-read transaction (one consistent view). */
export async function loadPolicyRows(db: Kysely<Database>): Promise<PolicyRows> {
  return db
    .transaction()
    .setIsolationLevel("repeatable read")
    .execute(async (trx) => {
      const policies = await trx
        .selectFrom("policy_versions")
        .selectAll()
        .distinctOn("model_id")
        .orderBy("model_id")
        .orderBy("version", "desc")
        .execute();
      const grants = await trx.selectFrom("grants").selectAll().where("revoked", "=", false).execute();
      const pool = await loadPoolRows(trx);
      const checkpoint = await trx
        .selectFrom("indexer_checkpoint")
        .selectAll()
        .orderBy("updated_at", "desc")
        .limit(1)
        .executeTakeFirst();
      return { policies, grants, ...pool, checkpoint: checkpoint ?? null };
    });
}

/** The community pool and its minimum voting power in force (the newest row of each). */
export async function loadPoolRows(db: Kysely<Database>): Promise<Pick<PolicyRows, "pool" | "poolEligibility">> {
  const pool = await db
    .selectFrom("community_pool_versions")
    .selectAll()
    .orderBy("block_number", "desc")
    .orderBy("log_index", "desc")
    .limit(1)
    .executeTakeFirst();
  const poolEligibility = await db
    .selectFrom("pool_eligibility_versions")
    .selectAll()
    .orderBy("block_number", "desc")
    .orderBy("log_index", "desc")
    .limit(1)
    .executeTakeFirst();
  return { pool: pool ?? null, poolEligibility: poolEligibility ?? null };
}
