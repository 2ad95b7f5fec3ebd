import { setTimeout as delay } from "node:timers/promises";

/** Waits `ms`, or less when `signal` aborts (never throws). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch {
    // Aborted: the caller checks its signal.
  }
}

/** Exponential backoff with full jitter: a random wait in [0, min(max, base·2^attempt)]. */
export function backoffMs(attempt: number, baseMs = 200, maxMs = 5_000): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** attempt);
}
