import { chargeQuotas, type QuotaCharge, refundQuotas, sweepQuotas } from "../db/api-quotas.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The quotas the API counts in Postgres (so they hold across replicas), and how a refusal reads. */
const scopes = {
  relay_account: {
    window: DAY_MS,
    reason: "RELAY_ACCOUNT_QUOTA",
    says: (c: QuotaCharge) => `${c.subject} has had ${c.limit} transactions relayed today, the limit per account`,
  },
  relay_client: {
    window: DAY_MS,
    reason: "RELAY_CLIENT_QUOTA",
    says: (c: QuotaCharge) => `this client has had ${c.limit} transactions relayed today, the limit per client`,
  },
  relay_spend: {
    window: DAY_MS,
    reason: "RELAY_SPEND_CEILING",
    says: (c: QuotaCharge) =>
      `the relayer would spend more than its ${c.limit} wei of gas for today (this transaction may cost up to ${c.amount})`,
  },
  sign_in: {
    window: HOUR_MS,
    reason: "SIGN_IN_QUOTA",
    says: (c: QuotaCharge) => `this client has signed in ${c.limit} times this hour, the limit per client`,
  },
} as const;

export type QuotaScope = keyof typeof scopes;

export interface Charge {
  scope: QuotaScope;
  subject: string;
  amount?: bigint;
  limit: number | bigint;
}

export interface Charged {
  /** What each counter stands at now, by scope. */
  used: Partial<Record<QuotaScope, bigint>>;
  /** Gives the charges back (the action they paid for did not happen). */
  refund(): Promise<void>;
}

/**
 * Quotas per window (an hour, a UTC day), counted in Postgres. Charges of one call share a window kind;
 * a refused charge counts nothing and answers RATE_LIMITED with `reason`, the limit and when the window
 * ends. Ended windows are swept once an hour by whichever replica charges first.
 */
export function createQuotas(deps: Pick<Deps, "database" | "now">) {
  let sweptAt = 0;
  return {
    async charge(charges: Charge[]): Promise<Charged> {
      const nowMs = deps.now();
      const window = scopes[(charges[0] as Charge).scope].window;
      const windowStart = new Date(Math.floor(nowMs / window) * window);
      const counted: QuotaCharge[] = charges.map((c) => ({
        scope: c.scope,
        subject: c.subject,
        amount: c.amount ?? 1n,
        limit: BigInt(c.limit),
      }));
      if (nowMs - sweptAt > HOUR_MS) {
        sweptAt = nowMs;
        await sweepQuotas(deps.database.db, new Date(nowMs - 2 * DAY_MS));
      }
      const result = await chargeQuotas(deps.database.db, windowStart, counted);
      if (!result.ok) {
        const scope = scopes[result.refused.scope as QuotaScope];
        const retryAt = new Date(windowStart.getTime() + window).toISOString();
        throw new AppError("RATE_LIMITED", `${scope.says(result.refused)}: try again after ${retryAt}`, {
          details: { reason: scope.reason, limit: result.refused.limit.toString(), retryAt },
        });
      }
      const used: Charged["used"] = {};
      for (const c of counted) used[c.scope as QuotaScope] = result.used.get(`${c.scope}:${c.subject}`);
      return { used, refund: () => refundQuotas(deps.database.db, windowStart, counted) };
    },
  };
}

export type Quotas = ReturnType<typeof createQuotas>;
