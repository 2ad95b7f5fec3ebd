import type { Kysely } from "kysely";

/**
 * Governance v2 (issue 17): a guardian's suspension of a model lapses at a time unless a vote confirms it,
 * so a policy version records until when and by whom it was suspended; and every change of the guardian
 * (appointed, replaced, removed) and of the guardian suspension period is kept with its provenance; a
 * proposal records its super quorum, which decides it before its deadline.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("policy_versions")
    // Null: not suspended, or suspended by a vote (until a new policy).
    .addColumn("suspended_until", "bigint")
    // The guardian who suspended the model without a vote; null for a vote.
    .addColumn("suspended_by", "text")
    .execute();

  // GovernorSuperQuorum: For votes that decide a proposal before its deadline (supply × the super quorum
  // numerator at its snapshot / 100); null where the governor has none (an existing DAO's).
  await db.schema.alterTable("proposals").addColumn("super_quorum", "numeric(78, 0)").execute();

  // ProposalGuardianSet (governor) and GuardianSuspensionPeriodSet (registry), newest in force.
  await db.schema
    .createTable("guardian_changes")
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("log_index", "integer", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    // GUARDIAN: the new guardian's address (the zero address: removed); SUSPENSION_PERIOD: seconds.
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("proposal_id", "numeric(78, 0)")
    .addColumn("block_time", "bigint", (c) => c.notNull())
    .addColumn("tx_hash", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("guardian_changes_pk", ["block_number", "log_index"])
    .execute();
}
