/**
 * The budget accounts the ledger counts on (`gateway_budget_counters.account`), one row per account and
 * epoch. A grant is counted on its own account; the community pool on two at once: the consumer's
 * allowance and the whole pool. The functions in this folder that name accounts themselves
 * (gateway_admit and gateway_admit_batch: `pool`; gateway_sweep: all three) and the pure policy
 * (services/policy: it may import no code) spell them the same way; test/db/ledger.test.ts pins that.
 */
export const POOL_TOTAL_ACCOUNT = "pool";

/** A grant's account. */
export const grantAccount = (grantId: string): string => `grant:${grantId}`;

/** One address's community-pool allowance. */
export const allowanceAccount = (address: string): string => `pool:${address}`;
