/**
 * Natural batching for the calls in flight on this replica: `submit` queues an item; up to
 * `maxInFlight` batches run at once, and items that arrive while they are all busy go together in the
 * next one (at most `maxBatch`). A quiet replica therefore sends each item at once, alone (no timer, no
 * added latency), and a busy one pays one round trip per batch instead of one per call.
 *
 * `run` answers the items of a batch in order; if it fails, every item of that batch fails with it.
 */
export interface Batcher<I, O> {
  submit(item: I): Promise<O>;
}

interface Pending<I, O> {
  item: I;
  resolve: (out: O) => void;
  reject: (error: unknown) => void;
}

export function createBatcher<I, O>(
  run: (items: I[]) => Promise<O[]>,
  options: { maxBatch: number; maxInFlight: number },
): Batcher<I, O> {
  const queue: Pending<I, O>[] = [];
  let inFlight = 0;

  const send = (batch: Pending<I, O>[]) => {
    inFlight++;
    run(batch.map((p) => p.item))
      .then(
        (outs) => {
          for (const [i, p] of batch.entries()) p.resolve(outs[i] as O);
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => {
        inFlight--;
        pump();
      });
  };

  const pump = () => {
    while (inFlight < options.maxInFlight && queue.length > 0) send(queue.splice(0, options.maxBatch));
  };

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        pump();
      });
    },
  };
}
