import { epochStartOf, isPoolEligible, minuteStartOf } from "../policy/decide.ts";
import type { ModelPolicy, PolicySnapshot, PoolStanding } from "../policy/types.ts";

/** A duration as OpenAI writes it in x-ratelimit-reset-*: "850ms", "6s", "1m30s", "2h0m5s". */
export function resetDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = Math.ceil(ms / 1000);
  const [h, m] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
  return `${h > 0 ? `${h}h` : ""}${h > 0 || m > 0 ? `${m}m` : ""}${s % 60}s`;
}

/**
 * Tokens per epoch of the budgets a consumer may draw on for a model: its live grants that cover the
 * model, and its community allowance when it may draw on the pool.
 */
function budgetLimit(
  snapshot: PolicySnapshot,
  consumer: string,
  model: string,
  standing: PoolStanding | null,
  nowMs: number,
) {
  const nowS = Math.floor(nowMs / 1000);
  let limit = 0;
  for (const g of snapshot.grantsByConsumer.get(consumer) ?? [])
    if (g.start <= nowS && nowS < g.end && (g.modelId === "" || g.modelId === model)) limit += g.tokensPerEpoch;
  if (isPoolEligible(snapshot.pool, standing, epochStartOf(snapshot, nowMs)))
    limit += snapshot.pool.allowancePerAddress;
  return limit;
}

export interface RateLimitState {
  snapshot: PolicySnapshot;
  consumer: string;
  model: ModelPolicy;
  standing: PoolStanding | null;
  nowMs: number;
  /** This consumer's requests on the model this minute, this one included (this replica's view). */
  requests: number;
  /** Tokens left across its budgets for the model (x-commons-budget-remaining); null: not known, not sent. */
  tokensRemaining: number | null;
}

/**
 * OpenAI's rate-limit headers, so that clients which already read them back off: requests from the
 * model's per-minute limit (reset at the minute's end), tokens from the consumer's budgets for the model
 * (reset at the epoch's end). Like x-commons-budget-remaining, the counts are this replica's view, at most
 * a second behind the others.
 */
export function rateLimitHeaders(s: RateLimitState): Record<string, string> {
  const minuteEndMs = (minuteStartOf(s.nowMs) + 60) * 1000;
  const epochEndMs = (epochStartOf(s.snapshot, s.nowMs) + s.snapshot.pool.epochLength) * 1000;
  const requests = {
    "x-ratelimit-limit-requests": String(s.model.requestsPerMinute),
    "x-ratelimit-remaining-requests": String(Math.max(0, s.model.requestsPerMinute - s.requests)),
    "x-ratelimit-reset-requests": resetDuration(minuteEndMs - s.nowMs),
  };
  if (s.tokensRemaining === null) return requests;
  return {
    ...requests,
    "x-ratelimit-limit-tokens": String(budgetLimit(s.snapshot, s.consumer, s.model.modelId, s.standing, s.nowMs)),
    "x-ratelimit-remaining-tokens": String(Math.max(0, s.tokensRemaining)),
    "x-ratelimit-reset-tokens": resetDuration(epochEndMs - s.nowMs),
  };
}

/** How long a RATE_LIMITED caller should wait: until the minute ends (the openai SDKs honour both). */
export function retryAfter(nowMs: number): Record<string, string> {
  const ms = (minuteStartOf(nowMs) + 60) * 1000 - nowMs;
  return { "retry-after": String(Math.ceil(ms / 1000)), "retry-after-ms": String(ms) };
}
