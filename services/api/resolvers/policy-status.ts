import { listDecisions } from "../../db/gateway-decisions.ts";
import { loadPolicyRows } from "../../db/gateway-policy-rows.ts";
import { allowanceAccount, POOL_TOTAL_ACCOUNT } from "../../db/ledger/accounts.ts";
import { budgetCounters, readSpending } from "../../db/ledger/client.ts";
import { settledVotesAt } from "../../db/voting-power.ts";
import { decide, epochStartOf, isPoolEligible, minuteStartOf } from "../../policy/decide.ts";
import { buildSnapshot } from "../../policy/snapshot.ts";
import type { GrantPolicy } from "../../policy/types.ts";
import type { Config } from "../../shared/config.ts";
import { type ApiContext, privateAccess } from "../context.ts";

export function snapshotSettings(config: Config) {
  return {
    defaultMaxTokens: config.DEFAULT_MAX_TOKENS,
    maxStalenessMs: config.MAX_POLICY_STALENESS_S * 1000,
    allowStale: config.ALLOW_STALE_POLICY,
  };
}

function appliesNow(grant: GrantPolicy, model: string, nowS: number): boolean {
  return grant.start <= nowS && nowS < grant.end && (grant.modelId === "" || grant.modelId === model);
}

/**
 * policyStatus: the gateway's own view for one consumer and model, computed with the same pure
 * decide() over the same index rows and ledger counters, so "would a call be admitted" cannot
 * disagree with what the gateway does.
 */
export const policyStatusQueries = {
  async policyStatus(_: unknown, args: { model: string; consumer: string; purpose?: string | null }, ctx: ApiContext) {
    const { config, database, now } = ctx.deps;
    const db = database.db;
    const { rows, snapshot } = await ctx.perRequest("policy-snapshot", async () => {
      const rows = await loadPolicyRows(db);
      return { rows, snapshot: buildSnapshot(rows, snapshotSettings(config)) };
    });
    const nowMs = now();
    const nowS = Math.floor(nowMs / 1000);
    const epochStart = epochStartOf(snapshot, nowMs);
    const grants = (snapshot.grantsByConsumer.get(args.consumer) ?? []).filter((g) => appliesNow(g, args.model, nowS));
    const poolAccount = allowanceAccount(args.consumer);
    const accounts = [...grants.map((g) => g.account), poolAccount, POOL_TOTAL_ACCOUNT];
    const [spending, counters, poolStanding] = await Promise.all([
      readSpending(db, {
        accounts,
        epochStart,
        consumer: args.consumer,
        model: args.model,
        minuteStart: minuteStartOf(nowMs),
      }),
      budgetCounters(db, { accounts, epochStart }),
      snapshot.pool.minVotes === 0n ? null : settledVotesAt(db, args.consumer, epochStart),
    ]);
    const counter = new Map(counters.map((c) => [c.account, c]));
    const used = (account: string) => Number(counter.get(account)?.used ?? 0);
    // Replicas' slices are the consumer's to spend: reserved counts only calls in flight.
    const leased = (account: string) => Number(counter.get(account)?.leased ?? 0);
    const reserved = (account: string) => Number(counter.get(account)?.reserved ?? 0) - leased(account);
    const spent = (account: string) => (spending.spent.get(account) ?? 0) - leased(account);

    const decision = decide(
      snapshot,
      {
        consumer: args.consumer,
        modelId: args.model,
        purpose: args.purpose ? args.purpose.toLowerCase() : null,
        content: "",
        promptTokens: 1,
        maxTokens: null,
        poolStanding,
      },
      {
        requestsThisMinute: spending.requestsThisMinute,
        grantSpent: new Map(grants.map((g) => [g.account, spent(g.account)])),
        poolSpent: spent(poolAccount),
        poolTotalSpent: spent(POOL_TOTAL_ACCOUNT),
      },
      nowMs,
    );

    const pool = snapshot.pool;
    const poolTotalLeft = Math.max(0, pool.poolSizePerEpoch - spent(POOL_TOTAL_ACCOUNT));
    const poolEligible = isPoolEligible(pool, poolStanding, epochStart);
    const budgets = [
      ...grants.map((g) => ({
        source: "grant",
        grantId: g.grantId,
        granted: g.tokensPerEpoch,
        used: used(g.account),
        reserved: reserved(g.account),
        left: Math.max(0, g.tokensPerEpoch - spent(g.account)),
      })),
      {
        source: "pool",
        grantId: null,
        // An address the pool's minimum voting power leaves out has no allowance this epoch.
        granted: poolEligible ? pool.allowancePerAddress : 0,
        used: used(poolAccount),
        reserved: reserved(poolAccount),
        left: poolEligible ? Math.max(0, Math.min(pool.allowancePerAddress - spent(poolAccount), poolTotalLeft)) : 0,
      },
    ];
    return hidePrivateUnlessAllowed(ctx, {
      model: args.model,
      consumer: args.consumer,
      policy: rows.policies.find((p) => p.model_id === args.model) ?? null,
      epochStart,
      epochEnd: epochStart + pool.epochLength,
      budgets,
      communityPoolLeft: poolTotalLeft,
      poolEligible,
      requestsThisMinute: spending.requestsThisMinute,
      admitted: decision.admitted,
      reason: decision.admitted ? null : decision.reason,
      message: decision.admitted ? null : decision.message,
    });
  },
};

const PRIVATE_FIELDS = ["budgets", "requestsThisMinute", "admitted", "reason", "message"] as const;

/** A consumer's budget is its own: the private fields only for its key or the operator, null otherwise. */
async function hidePrivateUnlessAllowed<S extends Record<(typeof PRIVATE_FIELDS)[number], unknown>>(
  ctx: ApiContext,
  status: S & { consumer: string },
) {
  const access = await privateAccess(ctx, status.consumer);
  if (access.granted) return { ...status, privateAccess: access };
  return { ...status, ...Object.fromEntries(PRIVATE_FIELDS.map((f) => [f, null])), privateAccess: access };
}

export const PolicyStatus = {
  async recentDecisions(
    status: { model: string; consumer: string; privateAccess: { granted: boolean } },
    args: { first?: number },
    ctx: ApiContext,
  ) {
    if (!status.privateAccess.granted) return null;
    const first = Math.min(Math.max(args.first ?? 5, 1), 100);
    const { rows } = await listDecisions(
      ctx.deps.database.db,
      { consumer: status.consumer, model: status.model },
      { first },
    );
    return rows;
  },
};
