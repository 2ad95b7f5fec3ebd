import type { Kysely } from "kysely";
import { loadPolicyRows, type PolicyRows } from "./gateway-policy-rows.ts";
import type { Database } from "./schema.ts";

/** What a proposal's impact starts from: the index's policies, its governor settings, the next grant id. */
export interface GovernanceRows {
  policies: PolicyRows;
  /** The newest value of each governor setting the index has seen. */
  governor: { setting: string; value: string }[];
  /** The highest grant id ever given (revoked ones included), or null before the first grant. */
  maxGrantId: string | null;
}

export async function loadGovernanceRows(db: Kysely<Database>): Promise<GovernanceRows> {
  const [policies, governor, max] = await Promise.all([
    loadPolicyRows(db),
    db
      .selectFrom("governor_settings")
      .select(["setting", "value"])
      .distinctOn("setting")
      .orderBy("setting")
      .orderBy("block_number", "desc")
      .orderBy("log_index", "desc")
      .execute(),
    db
      .selectFrom("grants")
      .select((eb) => eb.fn.max("grant_id").as("max"))
      .executeTakeFirst(),
  ]);
  return { policies, governor, maxGrantId: max?.max ?? null };
}
