/**
 * Batches the loads of one tick into one call of `batch` (the N+1 fix: a page of 20 proposals asks
 * for 20 histories in one query). Nothing is cached beyond the batch, so a loader kept by a long-lived
 * subscription never serves stale rows.
 */
export function createBatchLoader<K, V>(
  batch: (keys: K[]) => Promise<Map<string, V>>,
  keyOf: (key: K) => string,
  missing: V,
): (key: K) => Promise<V> {
  let pending: {
    keys: Map<string, K>;
    waiters: { id: string; resolve(v: V): void; reject(e: unknown): void }[];
  } | null = null;

  const dispatch = async (current: NonNullable<typeof pending>) => {
    try {
      const found = await batch([...current.keys.values()]);
      for (const w of current.waiters) w.resolve(found.get(w.id) ?? missing);
    } catch (error) {
      for (const w of current.waiters) w.reject(error);
    }
  };

  return (key) =>
    new Promise<V>((resolve, reject) => {
      if (pending === null) {
        const current = { keys: new Map<string, K>(), waiters: [] as NonNullable<typeof pending>["waiters"] };
        pending = current;
        // After the promise jobs of this tick: every sibling field resolver has asked by then.
        setImmediate(() => {
          pending = null;
          void dispatch(current);
        });
      }
      const id = keyOf(key);
      pending.keys.set(id, key);
      pending.waiters.push({ id, resolve, reject });
    });
}

/** Groups rows by a key, keeping their order. */
export function groupBy<T>(rows: readonly T[], keyOf: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const list = groups.get(key);
    if (list) list.push(row);
    else groups.set(key, [row]);
  }
  return groups;
}
