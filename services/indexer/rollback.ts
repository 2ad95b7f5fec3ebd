import { sql, type Transaction } from "kysely";
import type { BlockHeader } from "../chain/rpc.ts";
import type { Database } from "../db/schema.ts";
import type { GovernanceNotification } from "./notifications.ts";
import { recomputeQuorums } from "./quorum.ts";

/**
 * Undoes every block above `ancestor` (a reorg replaced them). Event rows carry their block, so they
 * are deleted; the aggregates (accounts, proposal tallies and status, grant revocation, supply) are
 * restored from what remains: accounts from account_history, proposals from their votes and events.
 * The result is exactly the index of a chain that ends at `ancestor`. An existing governor's quorums
 * were read from the chain, not derived (`derivesQuorums` false), so they stay as read.
 */
export async function rollbackTo(
  trx: Transaction<Database>,
  checkpointId: string,
  ancestor: BlockHeader,
  options: { derivesQuorums: boolean },
): Promise<GovernanceNotification[]> {
  const a = ancestor.number;
  for (const table of [
    "votes",
    "proposal_events",
    "policy_versions",
    "grants",
    "community_pool_versions",
    "pool_eligibility_versions",
    "governor_settings",
    "guardian_changes",
    "account_history",
  ] as const) {
    await trx.deleteFrom(table).where("block_number", ">", a).execute();
  }
  await trx
    .updateTable("grants")
    .set({ revoked: false, revoked_proposal_id: null, revoked_block: null, revoked_tx: null })
    .where("revoked_block", ">", a)
    .execute();
  await trx.deleteFrom("chain_blocks").where("number", ">", a).execute();

  const removed = await trx.deleteFrom("proposals").where("created_block", ">", a).returning("id").execute();
  const stale = await trx.selectFrom("proposals").select("id").where("updated_block", ">", a).execute();
  for (const { id } of stale) await rebuildProposal(trx, id, a);

  const accounts = await trx.deleteFrom("accounts").where("updated_block", ">", a).returning("address").execute();
  if (accounts.length > 0) {
    await sql`
      insert into accounts (address, balance, delegate, voting_power, delegators, updated_block)
      select distinct on (address) address, balance, delegate, voting_power, delegators, block_number
      from account_history
      where address = any(${accounts.map((r) => r.address)}::text[])
      order by address, block_number desc
    `.execute(trx);
  }

  await sql`
    update indexer_checkpoint set
      block_number = ${a}, block_hash = ${ancestor.hash}, block_time = ${ancestor.timestamp},
      total_supply = (select coalesce(sum(balance), 0) from accounts), updated_at = now()
    where id = ${checkpointId}
  `.execute(trx);
  if (options.derivesQuorums && stale.length > 0)
    await recomputeQuorums(trx, checkpointId, { ids: stale.map((r) => r.id) });
  return [...removed, ...stale].map((r) => ({ type: "proposal", proposalId: r.id }));
}

/** Recomputes one proposal's tallies, status, canceller, eta and deadline from the rows at or below block `a`. */
async function rebuildProposal(trx: Transaction<Database>, id: string, a: number) {
  await sql`
    update proposals p set
      for_votes = coalesce((select sum(weight) from votes where proposal_id = p.id and support = 1), 0),
      against_votes = coalesce((select sum(weight) from votes where proposal_id = p.id and support = 0), 0),
      abstain_votes = coalesce((select sum(weight) from votes where proposal_id = p.id and support = 2), 0),
      vote_count = (select count(*) from votes where proposal_id = p.id),
      status = coalesce((
        select event from proposal_events
        where proposal_id = p.id and event in ('QUEUED', 'EXECUTED', 'CANCELED')
        order by block_number desc, log_index desc limit 1), 'PENDING'),
      canceled_by = (
        select data->>'by' from proposal_events
        where proposal_id = p.id and event = 'CANCELED'
        order by block_number desc, log_index desc limit 1),
      eta = (
        select (data->>'eta')::bigint from proposal_events
        where proposal_id = p.id and event = 'QUEUED'
        order by block_number desc, log_index desc limit 1),
      vote_end = coalesce((
        select (data->>'deadline')::bigint from proposal_events
        where proposal_id = p.id and event = 'EXTENDED'
        order by block_number desc, log_index desc limit 1), (
        select (data->>'voteEnd')::bigint from proposal_events
        where proposal_id = p.id and event = 'CREATED')),
      updated_block = greatest(p.created_block,
        (select max(block_number) from votes where proposal_id = p.id),
        (select max(block_number) from proposal_events where proposal_id = p.id))
    where p.id = ${id} and p.updated_block > ${a}
  `.execute(trx);
}
