import { AppError, isAppError } from "../shared/errors.ts";
import type { ProviderClient, Served, Upstream } from "./upstream.ts";

/** A configured provider: its name (audit records, metric labels), weight, models and client. */
export interface Provider {
  name: string;
  weight: number;
  /** Null: every model. */
  models: ReadonlySet<string> | null;
  client: ProviderClient;
}

/**
 * Smooth weighted round-robin (the algorithm of nginx's upstream module): each pick adds every
 * candidate's weight to its running score, takes the highest, and takes the sum of the weights off the
 * one picked. Over any run of picks among the same candidates each is picked in proportion to its
 * weight, within one pick, and the picks are spread out (weights 5, 1, 1 give a a b a c a a, not
 * a a a a a b c). Deterministic: no random source, so a test can count the picks exactly.
 */
export function createWeightedPick() {
  const scores = new Map<string, number>();
  return <T extends { name: string; weight: number }>(candidates: readonly T[]): T => {
    let total = 0;
    let best: T | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const c of candidates) {
      const score = (scores.get(c.name) ?? 0) + c.weight;
      scores.set(c.name, score);
      total += c.weight;
      if (score > bestScore) {
        best = c;
        bestScore = score;
      }
    }
    const picked = best as T;
    scores.set(picked.name, bestScore - total);
    return picked;
  };
}

/**
 * Whether another provider may be tried after `error`: the provider failed before it answered a status
 * (refused or dropped the connection, timed out) or answered 5xx or 429 (nothing was accepted, so
 * nothing was billed to the call). Never once a provider answered 200: a stream that sent bytes, or a
 * JSON answer it was sending, is its provider's.
 */
function mayTryAnother(error: unknown): boolean {
  if (!isAppError(error, "UPSTREAM_ERROR") || error.details?.beforeResponse !== true) return false;
  const status = error.details.status;
  return typeof status !== "number" || status >= 500 || status === 429;
}

/**
 * Several providers as one Upstream. A call tries the providers that serve its model: first the weighted
 * pick, then the others by weight; each once, and a lone provider twice (one retry). It moves on only on
 * a failure before the first byte (mayTryAnother) and while the caller still waits.
 */
export function createProviderRouter(
  providers: readonly Provider[],
  o: { onFallback?: (provider: string, error: AppError) => void } = {},
): Upstream {
  const pick = createWeightedPick();
  const byWeight = [...providers].sort((a, b) => b.weight - a.weight);
  const servers = (model: string) => providers.filter((p) => p.models === null || p.models.has(model));

  const attemptsFor = (model: string): Provider[] => {
    const candidates = servers(model);
    if (candidates.length === 0) return [];
    const first = pick(candidates);
    const rest = byWeight.filter((p) => p !== first && candidates.includes(p));
    return rest.length === 0 ? [first, first] : [first, ...rest];
  };

  async function attempt<T>(
    body: Record<string, unknown>,
    signal: AbortSignal,
    call: (client: ProviderClient) => Promise<T>,
  ): Promise<Served<T>> {
    const model = String(body.model);
    const attempts = attemptsFor(model);
    // Built only when there is no provider: an error's stack costs more than the rest of this call.
    if (attempts.length === 0) throw new AppError("UPSTREAM_ERROR", `no provider serves model ${model}`);
    let last: unknown;
    for (const [i, provider] of attempts.entries()) {
      try {
        return { provider: provider.name, value: await call(provider.client) };
      } catch (error) {
        last = error;
        if (i === attempts.length - 1 || signal.aborted || !mayTryAnother(error)) break;
        o.onFallback?.(provider.name, error as AppError);
      }
    }
    throw last;
  }

  return {
    label: providers.map((p) => `${p.name} (weight ${p.weight})`).join(", "),
    serves: (model) => servers(model).length > 0,
    json: (path, body, signal) => attempt(body, signal, (client) => client.json(path, body, signal)),
    stream: (path, body, signal) => attempt(body, signal, (client) => client.stream(path, body, signal)),
    async close() {
      await Promise.all(providers.map((p) => p.client.close()));
    },
  };
}
