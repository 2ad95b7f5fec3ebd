import type { Kysely } from "kysely";

/**
 * Who canceled a proposal (issue 17): ProposalCanceled names no canceller, so the indexer takes it from the
 * canceling transaction (see services/indexer/handlers). The CANCELED event row carries it too, in its data
 * (`by`), so a reorg's rollback restores it from the events that remain. Proposals canceled before this
 * migration keep null: their transactions were not read.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("proposals").addColumn("canceled_by", "text").execute();
}
