import type { Kysely } from "kysely";
import type { Database } from "../db/schema.ts";
import { settledVotesAt } from "../db/voting-power.ts";
import { epochStartOf } from "../policy/decide.ts";
import type { PolicySnapshot, PoolStanding } from "../policy/types.ts";

export interface PoolStandings {
  /** The consumer's voting power at the current epoch's start, or null when the pool needs none or it is not settled. */
  get(consumer: string, snapshot: PolicySnapshot, nowMs: number): Promise<PoolStanding | null>;
}

/**
 * Consumers' voting power at the epoch's start, read from the index once per consumer and epoch: a
 * settled value cannot change during the epoch, so a call pays no lookup after its consumer's first.
 * An unsettled one (the index has not yet passed the epoch's start) is not kept, and gives no pool.
 */
export function createPoolStandings(db: Kysely<Database>, options: { maxEntries?: number } = {}): PoolStandings {
  const maxEntries = options.maxEntries ?? 100_000;
  const known = new Map<string, PoolStanding>();
  return {
    async get(consumer, snapshot, nowMs) {
      if (snapshot.pool.minVotes === 0n) return null;
      const epochStart = epochStartOf(snapshot, nowMs);
      const cached = known.get(consumer);
      if (cached?.epochStart === epochStart) return cached;
      const standing = await settledVotesAt(db, consumer, epochStart);
      if (standing === null) return null;
      if (known.size >= maxEntries && !known.has(consumer)) known.delete(known.keys().next().value as string);
      known.set(consumer, standing);
      return standing;
    },
  };
}
