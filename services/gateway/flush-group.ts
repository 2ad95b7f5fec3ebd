/**
 * Group commit for the calls in flight on this replica: `durable()` resolves once a flush that STARTED
 * after it was called has completed, so everything its caller committed before is on disk. One flush
 * runs at a time; callers arriving while it runs share the next one, so concurrent calls pay about one
 * fsync between them rather than one each.
 */
export interface FlushGroup {
  durable(): Promise<void>;
}

export function createFlushGroup(flush: () => Promise<void>): FlushGroup {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;

  const start = (): Promise<void> => {
    const flushing = flush().finally(() => {
      running = null;
    });
    running = flushing;
    return flushing;
  };

  return {
    durable() {
      if (running === null) return start();
      // The flush in progress may have started before our caller's commit: wait for the next one.
      next ??= running
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => {
          next = null;
          return start();
        });
      return next;
    },
  };
}
