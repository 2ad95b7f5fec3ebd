import { allowanceAccount, POOL_TOTAL_ACCOUNT } from "../db/ledger/accounts.ts";
import type { ConsumerUsage } from "../policy/types.ts";

/**
 * This replica's latest view of each consumer's spending on a model, fed by what the guarded rows held
 * after its own reservations and settlements (they return it at no extra round trip) and by full reads.
 * It is a HINT for decide() and the budget-remaining header, never the authority: admissions are
 * guarded in Postgres, and a refusal is never made on a hint (the enforcer re-reads first). Entries older
 * than `ttlMs`, or from another minute or epoch, are not used, which bounds how far other replicas'
 * spending can lag in the header.
 */
export interface SpendingHints {
  /** The hint, or null when there is none fresh enough for this minute and epoch. */
  get(consumer: string, model: string, minuteStart: number, epochStart: number): ConsumerUsage | null;
  /** A full read of the consumer's usage: replaces the hint and restarts its time to live. */
  replace(consumer: string, model: string, minuteStart: number, epochStart: number, usage: ConsumerUsage): void;
  /** What some guarded rows held after a statement of this replica (missing rows are left as they were). */
  update(
    consumer: string,
    model: string,
    epochStart: number,
    after: { spent: ReadonlyMap<string, number>; requestsThisMinute?: number },
  ): void;
}

interface Entry {
  minuteStart: number;
  epochStart: number;
  at: number;
  requestsThisMinute: number;
  /** By account: grant accounts, `pool:<address>` and `pool`. */
  spent: Map<string, number>;
}

export function createSpendingHints(
  options: { ttlMs?: number; maxEntries?: number; clock?: () => number } = {},
): SpendingHints {
  const ttlMs = options.ttlMs ?? 1000;
  const maxEntries = options.maxEntries ?? 100_000;
  const clock = options.clock ?? performance.now.bind(performance);
  const entries = new Map<string, Entry>();
  const keyOf = (consumer: string, model: string) => `${consumer} ${model}`;

  return {
    get(consumer, model, minuteStart, epochStart) {
      const entry = entries.get(keyOf(consumer, model));
      if (!entry || entry.minuteStart !== minuteStart || entry.epochStart !== epochStart) return null;
      if (clock() - entry.at > ttlMs) return null;
      return {
        requestsThisMinute: entry.requestsThisMinute,
        grantSpent: entry.spent,
        poolSpent: entry.spent.get(allowanceAccount(consumer)) ?? 0,
        poolTotalSpent: entry.spent.get(POOL_TOTAL_ACCOUNT) ?? 0,
      };
    },
    replace(consumer, model, minuteStart, epochStart, usage) {
      const spent = new Map(usage.grantSpent);
      spent.set(allowanceAccount(consumer), usage.poolSpent);
      spent.set(POOL_TOTAL_ACCOUNT, usage.poolTotalSpent);
      const key = keyOf(consumer, model);
      entries.delete(key);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(key, { minuteStart, epochStart, at: clock(), requestsThisMinute: usage.requestsThisMinute, spent });
    },
    update(consumer, model, epochStart, after) {
      const entry = entries.get(keyOf(consumer, model));
      if (!entry || entry.epochStart !== epochStart) return;
      for (const [account, spent] of after.spent) entry.spent.set(account, spent);
      if (after.requestsThisMinute !== undefined) entry.requestsThisMinute = after.requestsThisMinute;
    },
  };
}
