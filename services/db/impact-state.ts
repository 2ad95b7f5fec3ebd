import type { Kysely } from "kysely";
import { loadPolicyRows, type PolicyRows } from "./gateway-policy-rows.ts";
import type { Database } from "./schema.ts";

/**
 * What a proposal's impact starts from: the index's policies, its governor settings, its guardian, the next
 * grant id.
 */
export interface GovernanceRows {
  policies: PolicyRows;
  /** The newest value of each governor setting the index has seen. */
  governor: { setting: string; value: string }[];
  /** The newest value of the guardian and of its suspension period the index has seen. */
  guardian: { kind: "GUARDIAN" | "SUSPENSION_PERIOD"; value: string }[];
  /** The highest grant id ever given (revoked ones included), or null before the first grant. */
  maxGrantId: string | null;
}

export async function loadGovernanceRows(db: Kysely<Database>): Promise<GovernanceRows> {
  const [policies, governor, guardian, max] = await Promise.all([
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
      .selectFrom("guardian_changes")
      .select(["kind", "value"])
      .distinctOn("kind")
      .orderBy("kind")
      .orderBy("block_number", "desc")
      .orderBy("log_index", "desc")
      .execute(),
    db
      .selectFrom("grants")
      .select((eb) => eb.fn.max("grant_id").as("max"))
      .executeTakeFirst(),
  ]);
  return { policies, governor, guardian, maxGrantId: max?.max ?? null };
}

/** A proposal queued in the timelock (not executed, not canceled), as the index has it. */
export interface QueuedProposalRow {
  id: string;
  targets: string[];
  calldatas: string[];
  eta: number | null;
}

/** The proposals queued now: the gateway shadows their policies (policy/shadow.ts). */
export async function loadQueuedProposals(db: Kysely<Database>): Promise<QueuedProposalRow[]> {
  const rows = await db
    .selectFrom("proposals")
    .select(["id", "targets", "calldatas", "eta"])
    .where("status", "=", "QUEUED")
    .execute();
  return rows.map((r) => ({ ...r, eta: r.eta === null ? null : Number(r.eta) }));
}
