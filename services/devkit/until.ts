/**
 * The one way tests, benchmarks and the demo wait for something: polls `check` until it returns a value
 * other than undefined, and fails with a message naming `what` once `timeoutMs` has passed, so that a
 * test (or a run) that would hang fails instead, saying what it waited for.
 */
export async function until<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const { timeoutMs = 20_000, intervalMs = 10 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** until() for a condition: resolves once `condition` holds. */
export async function untilTrue(
  condition: () => boolean | Promise<boolean>,
  what: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  await until(async () => ((await condition()) ? true : undefined), what, options);
}
