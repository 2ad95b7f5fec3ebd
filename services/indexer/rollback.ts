import { sql, type Transaction } from "kysely";
import type { BlockHeader } from "../chain/rpc.ts";
import type { Database } from "../db/schema.ts";
import type { GovernanceNotification } from "./notifications.ts";
import { asCreated, foldProposal, type ProposalTransition } from "./proposal-fold.ts";
import { recomputeQuorums } from "./quorum.ts";
import { writeProposalState } from "./range-writer.ts";

/**
 * Undoes every block above `ancestor` (a reorg replaced them). Event rows carry their block, so they
 * are deleted; the aggregates (accounts, proposal tallies and status, grant revocation, supply) are
 * restored from what remains: accounts from account_history, proposals by folding their remaining votes and
 * events (proposal-fold.ts, the fold the indexer applies going forward).
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
  for (const { id } of stale) await rebuildProposal(trx, id);

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

/**
 * Folds one proposal again from the rows left at or below block `a` (its votes and recorded transitions),
 * with the same fold the indexer applies going forward.
 */
async function rebuildProposal(trx: Transaction<Database>, id: string): Promise<void> {
  const row = await trx.selectFrom("proposals").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const events = await trx
    .selectFrom("proposal_events")
    .select(["event", "data", "block_number", "log_index"])
    .where("proposal_id", "=", id)
    .execute();
  const votes = await trx
    .selectFrom("votes")
    .select(["support", "weight", "block_number", "log_index"])
    .where("proposal_id", "=", id)
    .execute();
  const created = events.find((e) => e.event === "CREATED");
  const p = asCreated(row, (created?.data as { voteEnd?: number } | null)?.voteEnd ?? row.vote_end);
  const steps: { block: number; logIndex: number; t: ProposalTransition }[] = [
    ...votes.map((v) => ({
      block: v.block_number,
      logIndex: v.log_index,
      t: { event: "VOTE", support: v.support, weight: BigInt(v.weight) } as const,
    })),
    ...events.flatMap((e) => {
      const t = transitionOf(e.event, e.data);
      return t ? [{ block: e.block_number, logIndex: e.log_index, t }] : [];
    }),
  ];
  steps.sort((x, y) => x.block - y.block || x.logIndex - y.logIndex);
  for (const step of steps) foldProposal(p, step.t, step.block);
  await writeProposalState(trx, p);
}

/** A recorded proposal_events row as the transition it recorded (CREATED is the fold's start, not a step). */
function transitionOf(
  event: string,
  data: { eta?: number; deadline?: number; by?: string } | null,
): ProposalTransition | null {
  switch (event) {
    case "QUEUED":
      return { event: "QUEUED", eta: Number(data?.eta) };
    case "EXECUTED":
      return { event: "EXECUTED" };
    case "CANCELED":
      return { event: "CANCELED", by: data?.by ?? null };
    case "EXTENDED":
      return { event: "EXTENDED", deadline: Number(data?.deadline) };
    default:
      return null;
  }
}
