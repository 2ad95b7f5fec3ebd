import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/**
 * A block stamped before a time may still reach the index a little after that time (propagation, a
 * node's clock): an index that stood at the chain's head is trusted to know all of them only this
 * long after the time asked.
 */
export const HEAD_SETTLE_MARGIN_S = 30;

export interface PastVotes {
  /** Voting power (token wei) at the end of the last block stamped at or before the time asked. */
  votes: bigint;
  /**
   * The index holds every block stamped at or before that time, so `votes` cannot change any more
   * (short of a reorg below the confirmations): it has a later block, or it stood at the chain's head
   * a safe margin after that time (a quiet chain mines no later block).
   */
  settled: boolean;
}

/**
 * `token.getPastVotes(address, timepoint)` as the index knows it (one indexed lookup): the token
 * checkpoints voting power by block timestamp, and account_history holds each account as it stood at
 * the end of every block that changed it.
 */
export async function pastVotes(db: Kysely<Database>, address: string, timepoint: number): Promise<PastVotes> {
  const row = await db
    .selectNoFrom((eb) => [
      eb
        .selectFrom("account_history")
        .select("voting_power")
        .where("address", "=", address)
        .where("block_time", "<=", timepoint)
        .orderBy("block_number", "desc")
        .limit(1)
        .as("votes"),
      eb
        .selectFrom("indexer_checkpoint")
        .select(
          sql<boolean>`block_time > ${timepoint}
            or (block_number = head_block and updated_at > to_timestamp(${timepoint + HEAD_SETTLE_MARGIN_S}))`.as(
            "settled",
          ),
        )
        .orderBy("updated_at", "desc")
        .limit(1)
        .as("settled"),
    ])
    .executeTakeFirstOrThrow();
  return { votes: BigInt(row.votes ?? 0), settled: row.settled === true };
}

/**
 * The voting power at the start of the epoch that starts at `epochStart`, once the index has settled it
 * (the community pool's eligibility snapshot); null while it may still change.
 */
export async function settledVotesAt(
  db: Kysely<Database>,
  address: string,
  epochStart: number,
): Promise<{ epochStart: number; votes: bigint } | null> {
  const past = await pastVotes(db, address, epochStart);
  return past.settled ? { epochStart, votes: past.votes } : null;
}
