import { sql, type Transaction } from "kysely";
import type { Database } from "../db/schema.ts";

/**
 * Sets `quorum` of the chosen proposals to what GovernorVotesQuorumFraction returns for their snapshot:
 * supply × numerator(snapshot) / 100, where numerator(t) is the last QUORUM_NUMERATOR setting whose
 * clock value is ≤ t (the governor's checkpointed history). The token mints its whole supply at
 * deployment and cannot mint or burn afterwards, so the indexed supply is the supply at every snapshot.
 */
export async function recomputeQuorums(
  trx: Transaction<Database>,
  checkpointId: string,
  which: { createdFrom?: number; voteStartFrom?: number; ids?: string[] },
): Promise<void> {
  const conditions = [];
  if (which.createdFrom !== undefined) conditions.push(sql`p.created_block >= ${which.createdFrom}`);
  if (which.voteStartFrom !== undefined) conditions.push(sql`p.vote_start >= ${which.voteStartFrom}`);
  if (which.ids && which.ids.length > 0) conditions.push(sql`p.id = any(${which.ids}::numeric[])`);
  if (conditions.length === 0) return;
  // The super quorum likewise, from SUPER_QUORUM_NUMERATOR (GovernorVotesSuperQuorumFraction); none
  // when the governor never set one.
  await sql`
    update proposals p set quorum = div(c.total_supply * coalesce((
      select s.value from governor_settings s
      where s.setting = 'QUORUM_NUMERATOR' and s.effective_from <= p.vote_start
      order by s.effective_from desc, s.block_number desc, s.log_index desc
      limit 1), 0), 100),
    super_quorum = div(c.total_supply * (
      select s.value from governor_settings s
      where s.setting = 'SUPER_QUORUM_NUMERATOR' and s.effective_from <= p.vote_start
      order by s.effective_from desc, s.block_number desc, s.log_index desc
      limit 1), 100)
    from indexer_checkpoint c
    where c.id = ${checkpointId} and (${sql.join(conditions, sql` or `)})
  `.execute(trx);
}
