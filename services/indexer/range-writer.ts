import type { Transaction } from "kysely";
import type { BlockHeader } from "../chain/rpc.ts";
import type { Database } from "../db/schema.ts";
import { insertMany } from "./batch-insert.ts";
import type { ProposalRow } from "./proposal-fold.ts";
import { recomputeQuorums } from "./quorum.ts";
import type { AccountState, RangeInput, RangeState } from "./range-state.ts";

/** How many recent block hashes are kept to find a common ancestor after a reorg. */
export const KEPT_BLOCKS = 1024;

/** Writes what a range changed (rows, aggregates, block hashes and the checkpoint) in the range's transaction. */
export async function flushRange(s: RangeState): Promise<void> {
  const { trx, input, rows } = s;
  for (const [id, quorum] of input.quorums ?? []) {
    const p = s.proposals.get(id);
    if (p) p.quorum = quorum.toString();
  }
  await insertMany(
    trx,
    "proposals",
    [...s.created].map((id) => {
      const p = s.proposals.get(id) as ProposalRow;
      return {
        ...p,
        targets: JSON.stringify(p.targets),
        values: JSON.stringify(p.values),
        calldatas: JSON.stringify(p.calldatas),
        actions: JSON.stringify(p.actions),
      };
    }),
  );
  for (const id of s.dirty) await writeProposalState(trx, s.proposals.get(id) as ProposalRow);
  await insertMany(trx, "votes", rows.votes);
  await insertMany(trx, "proposal_events", rows.proposalEvents);
  await upsertAccounts(
    trx,
    [...s.dirtyAccounts].map((a) => s.accounts.get(a) as AccountState),
  );
  await insertMany(trx, "account_history", [...rows.history.values()]);
  await insertMany(trx, "policy_versions", rows.policies);
  await insertMany(trx, "grants", [...rows.grants.values()]);
  for (const r of rows.revocations) {
    await trx
      .updateTable("grants")
      .set({ revoked: true, revoked_proposal_id: r.proposalId, revoked_block: r.block, revoked_tx: r.tx })
      .where("grant_id", "=", r.grantId)
      .execute();
  }
  await insertMany(trx, "community_pool_versions", rows.pools);
  await insertMany(trx, "pool_eligibility_versions", rows.eligibility);
  await insertMany(trx, "governor_settings", rows.settings);
  await insertMany(trx, "guardian_changes", rows.guardian);
  await writeBlocksAndCheckpoint(trx, input, s.totalSupply);
  if (!s.existingDao && (s.created.size > 0 || s.quorumFrom !== undefined)) {
    await recomputeQuorums(trx, input.checkpointId, {
      ...(s.created.size > 0 ? { createdFrom: input.from } : {}),
      ...(s.quorumFrom !== undefined ? { voteStartFrom: s.quorumFrom } : {}),
    });
  }
}

/** Stores the part of a proposal its transitions fold (proposal-fold.ts); forward and after a rollback. */
export async function writeProposalState(trx: Transaction<Database>, p: ProposalRow): Promise<void> {
  await trx
    .updateTable("proposals")
    .set({
      status: p.status,
      eta: p.eta,
      canceled_by: p.canceled_by,
      vote_end: p.vote_end,
      for_votes: p.for_votes,
      against_votes: p.against_votes,
      abstain_votes: p.abstain_votes,
      vote_count: p.vote_count,
      quorum: p.quorum,
      updated_block: p.updated_block,
    })
    .where("id", "=", p.id)
    .execute();
}

async function writeBlocksAndCheckpoint(trx: Transaction<Database>, input: RangeInput, totalSupply: bigint) {
  const headers = [...input.blocks.values()];
  await insertMany(
    trx,
    "chain_blocks",
    headers.map((h) => ({ number: h.number, hash: h.hash, parent_hash: h.parentHash, timestamp: h.timestamp })),
  );
  await trx
    .deleteFrom("chain_blocks")
    .where("number", "<", input.to - KEPT_BLOCKS)
    .execute();
  const last = input.blocks.get(input.to) as BlockHeader;
  const checkpoint = {
    block_number: last.number,
    block_hash: last.hash,
    block_time: last.timestamp,
    head_block: input.head,
    total_supply: totalSupply.toString(),
    last_error: null,
    last_error_at: null,
    updated_at: new Date(),
  };
  await trx
    .insertInto("indexer_checkpoint")
    .values({ id: input.checkpointId, chain_id: input.chainId, ...checkpoint })
    .onConflict((oc) => oc.column("id").doUpdateSet(checkpoint))
    .execute();
}

async function upsertAccounts(trx: Transaction<Database>, changed: AccountState[]) {
  const rows = changed.map((a) => ({
    address: a.address,
    balance: a.balance.toString(),
    delegate: a.delegate,
    voting_power: a.votingPower.toString(),
    delegators: a.delegators,
    updated_block: a.updatedBlock,
  }));
  for (let i = 0; i < rows.length; i += 4000) {
    await trx
      .insertInto("accounts")
      .values(rows.slice(i, i + 4000))
      .onConflict((oc) =>
        oc.column("address").doUpdateSet((eb) => ({
          balance: eb.ref("excluded.balance"),
          delegate: eb.ref("excluded.delegate"),
          voting_power: eb.ref("excluded.voting_power"),
          delegators: eb.ref("excluded.delegators"),
          updated_block: eb.ref("excluded.updated_block"),
        })),
      )
      .execute();
  }
}
