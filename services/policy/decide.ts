import type { ReasonCode } from "../shared/errors.ts";
import type {
  BudgetSource,
  ConsumerUsage,
  Decision,
  DecisionRequest,
  ModelPolicy,
  ModelRules,
  PolicySnapshot,
  PoolPolicy,
  PoolStanding,
  Refused,
} from "./types.ts";

/**
 * The documented order of checks: a call is refused with the FIRST rule it breaks. Cheap, request-
 * only checks come before the ones that need the consumer's usage.
 */
export const checkOrder = [
  "INVALID_API_KEY",
  "POLICY_STATE_STALE",
  "MODEL_NOT_APPROVED",
  "MODEL_SUSPENDED",
  "PURPOSE_NOT_ALLOWED",
  "CONTENT_BLOCKED",
  "MAX_TOKENS_EXCEEDED",
  "RATE_LIMITED",
  "BUDGET_EXHAUSTED",
] as const satisfies readonly ReasonCode[];

/** First second of the epoch containing `nowMs`; the pool in force sets the epoch length. */
export function epochStartOf(snapshot: PolicySnapshot, nowMs: number): number {
  return poolEpochStart(snapshot.pool, nowMs);
}

export function poolEpochStart(pool: PoolPolicy, nowMs: number): number {
  const t = Math.floor(nowMs / 1000);
  return t - (t % pool.epochLength);
}

/**
 * Whether a consumer may draw on the pool in the epoch that starts at `epochStart`: the pool has no
 * minimum, or the consumer's settled voting power at that epoch's start reaches it.
 */
export function isPoolEligible(pool: PoolPolicy, standing: PoolStanding | null, epochStart: number): boolean {
  return (
    pool.minVotes === 0n || (standing !== null && standing.epochStart === epochStart && standing.votes >= pool.minVotes)
  );
}

/** Why a consumer may not draw on the pool this epoch, in words (a refused call, a refused sign-in). */
export function poolIneligibility(pool: PoolPolicy, standing: PoolStanding | null, epochStart: number): string {
  const had =
    standing === null || standing.epochStart !== epochStart
      ? "the index has not yet settled this address's voting power at that time: try again shortly"
      : `this address had ${standing.votes}; voting power delegated during an epoch counts from the next one`;
  return `the community pool requires ${pool.minVotes} voting power (token wei) at the epoch start (${new Date(epochStart * 1000).toISOString()}); ${had}`;
}

export function minuteStartOf(nowMs: number): number {
  const t = Math.floor(nowMs / 1000);
  return t - (t % 60);
}

/**
 * The max_tokens each of a call's `choices` completions runs with: as asked, or the configured default
 * within the model's limit shared by the choices (0 when there are more choices than the limit).
 */
export function effectiveMaxTokens(
  snapshot: PolicySnapshot,
  model: ModelPolicy,
  asked: number | null,
  choices = 1,
): number {
  return asked ?? Math.min(snapshot.settings.defaultMaxTokens, Math.floor(model.maxTokensPerRequest / choices));
}

export function isStale(snapshot: PolicySnapshot, nowMs: number): boolean {
  if (snapshot.settings.allowStale) return false;
  return snapshot.index === null || nowMs - snapshot.index.heartbeatAt > snapshot.settings.maxStalenessMs;
}

/**
 * Whether a model is suspended at `nowMs`: by a vote (until a new policy), or by the guardian until its
 * suspension lapses. An expired guardian suspension is not enforced, as the registry's isSuspended says.
 */
export function isSuspendedAt(model: ModelRules, nowMs: number): boolean {
  return model.suspended && (model.suspendedUntil === null || nowMs < model.suspendedUntil * 1000);
}

function refuse(reason: ReasonCode, message: string, model: ModelPolicy | null): Refused {
  return { admitted: false, reason, message, model };
}

function firstBlockedTerm(model: ModelPolicy, content: string): string | null {
  // No form is empty (snapshot.ts drops them): empty content holds none, and a replay decides mostly those.
  if (content === "") return null;
  const terms = model.blockedTermForms;
  for (let i = 0; i < terms.length; i++) {
    const term = terms[i] as string;
    if (content.includes(term)) return term;
  }
  return null;
}

/**
 * Decides one AI call: admit (with what to reserve and from where) or refuse with the first rule
 * broken in `checkOrder`. Pure: everything it needs is an argument, `nowMs` included.
 */
export function decide(
  snapshot: PolicySnapshot,
  request: DecisionRequest,
  usage: ConsumerUsage,
  nowMs: number,
): Decision {
  const consumer = request.consumer;
  if (consumer === null) return refuse("INVALID_API_KEY", "the API key is missing, unknown or revoked", null);
  if (isStale(snapshot, nowMs)) {
    return refuse("POLICY_STATE_STALE", "the policy index is behind the chain; refusing until it catches up", null);
  }
  const model = snapshot.models.get(request.modelId);
  if (model === undefined || !model.approved) {
    return refuse("MODEL_NOT_APPROVED", `model ${request.modelId} is not approved by governance`, model ?? null);
  }
  if (isSuspendedAt(model, nowMs)) {
    const until =
      model.suspendedUntil === null
        ? ""
        : ` (by the guardian, until ${new Date(model.suspendedUntil * 1000).toISOString()} unless a vote confirms it)`;
    return refuse(
      "MODEL_SUSPENDED",
      `model ${model.modelId} is suspended${until}: ${model.suspendReason ?? ""}`,
      model,
    );
  }
  if (model.allowedPurposeSet.size > 0 && (request.purpose === null || !model.allowedPurposeSet.has(request.purpose))) {
    return refuse(
      "PURPOSE_NOT_ALLOWED",
      `purpose ${request.purpose ?? "(none declared)"} is not allowed for ${model.modelId}; allowed: ${model.allowedPurposes.join(", ")}`,
      model,
    );
  }
  const blocked = firstBlockedTerm(model, request.content);
  if (blocked !== null)
    return refuse("CONTENT_BLOCKED", `the input contains a term blocked for ${model.modelId}`, model);
  // The limit is per request: n completions of max_tokens each are n times max_tokens.
  const choices = request.choices ?? 1;
  const maxTokens = effectiveMaxTokens(snapshot, model, request.maxTokens, choices);
  if (maxTokens * choices > model.maxTokensPerRequest || (request.maxTokens === null && maxTokens < 1)) {
    const asked =
      request.maxTokens === null
        ? `n ${choices}`
        : `max_tokens ${request.maxTokens}${choices > 1 ? ` × n ${choices}` : ""}`;
    return refuse(
      "MAX_TOKENS_EXCEEDED",
      `${asked} is above the limit of ${model.maxTokensPerRequest} tokens per request for ${model.modelId}`,
      model,
    );
  }
  if (usage.requestsThisMinute >= model.requestsPerMinute) {
    return refuse(
      "RATE_LIMITED",
      `more than ${model.requestsPerMinute} requests per minute on ${model.modelId}`,
      model,
    );
  }

  const reserve = request.promptTokens + maxTokens * choices;
  const epochStart = epochStartOf(snapshot, nowMs);
  const nowS = Math.floor(nowMs / 1000);
  const sources: BudgetSource[] = [];
  let remaining = 0;
  const grants = snapshot.grantsByConsumer.get(consumer);
  if (grants !== undefined) {
    for (let i = 0; i < grants.length; i++) {
      const g = grants[i] as (typeof grants)[number];
      if (g.start > nowS || nowS >= g.end || (g.modelId !== "" && g.modelId !== model.modelId)) continue;
      const left = g.tokensPerEpoch - (usage.grantSpent.get(g.account) ?? 0);
      if (left <= 0) continue;
      remaining += left;
      if (left >= reserve) {
        sources.push({
          kind: "grant",
          account: g.account,
          grantId: g.grantId,
          limit: g.tokensPerEpoch,
          remaining: left,
        });
      }
    }
  }
  const pool = snapshot.pool;
  const poolEligible = isPoolEligible(pool, request.poolStanding, epochStart);
  const poolLeft = poolEligible
    ? Math.min(pool.allowancePerAddress - usage.poolSpent, pool.poolSizePerEpoch - usage.poolTotalSpent)
    : 0;
  if (poolLeft > 0) {
    remaining += poolLeft;
    if (poolLeft >= reserve) {
      sources.push({
        kind: "pool",
        account: `pool:${consumer}`,
        limit: pool.allowancePerAddress,
        poolLimit: pool.poolSizePerEpoch,
        remaining: poolLeft,
      });
    }
  }
  if (sources.length === 0) {
    const budget = `this call may cost up to ${reserve} tokens and ${remaining} are left this epoch`;
    return refuse(
      "BUDGET_EXHAUSTED",
      poolEligible ? budget : `${budget}; ${poolIneligibility(pool, request.poolStanding, epochStart)}`,
      model,
    );
  }
  return { admitted: true, model, maxTokens, reserve, sources, remaining, epochStart, minuteStart: nowS - (nowS % 60) };
}
