import t from "tap";
import { createBatcher } from "../../services/gateway/batcher.ts";

/** A run that answers when the test says so, recording each batch it was given. */
function manualRun() {
  const batches: number[][] = [];
  const pending: { items: number[]; resolve: (out: string[]) => void; reject: (e: Error) => void }[] = [];
  return {
    batches,
    run: (items: number[]) =>
      new Promise<string[]>((resolve, reject) => {
        batches.push(items);
        pending.push({ items, resolve, reject });
      }),
    answerNext: async () => {
      const next = pending.shift();
      next?.resolve(next.items.map((i) => `answer ${i}`));
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
    failNext: async (message: string) => {
      pending.shift()?.reject(new Error(message));
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
  };
}

t.test("a quiet batcher sends each item at once, alone", async (t) => {
  const db = manualRun();
  const batcher = createBatcher(db.run, { maxBatch: 10, maxInFlight: 2 });
  const first = batcher.submit(1);
  t.same(db.batches, [[1]], "sent before submit returns: no timer");
  await db.answerNext();
  t.equal(await first, "answer 1");
  const second = batcher.submit(2);
  t.same(db.batches, [[1], [2]]);
  await db.answerNext();
  t.equal(await second, "answer 2");
});

t.test("a busy batcher sends what queued meanwhile together, in order, at most maxBatch at a time", async (t) => {
  const db = manualRun();
  const batcher = createBatcher(db.run, { maxBatch: 3, maxInFlight: 2 });
  const answers = [1, 2, 3, 4, 5, 6, 7].map((i) => batcher.submit(i));
  t.same(db.batches, [[1], [2]], "two in flight; the rest wait");
  await db.answerNext();
  t.same(db.batches, [[1], [2], [3, 4, 5]], "a finished batch frees a slot for the next (maxBatch items)");
  await db.answerNext();
  await db.answerNext();
  t.same(db.batches, [[1], [2], [3, 4, 5], [6, 7]]);
  await db.answerNext();
  t.same(
    await Promise.all(answers),
    [1, 2, 3, 4, 5, 6, 7].map((i) => `answer ${i}`),
    "each item gets its own answer",
  );
});

t.test("a failed batch fails its own items only, and the batcher goes on", async (t) => {
  const db = manualRun();
  const batcher = createBatcher(db.run, { maxBatch: 5, maxInFlight: 1 });
  const first = batcher.submit(1);
  const queued = [batcher.submit(2), batcher.submit(3)];
  await db.failNext("the ledger is down");
  await t.rejects(first, /the ledger is down/);
  t.same(db.batches, [[1], [2, 3]]);
  await db.answerNext();
  t.same(await Promise.all(queued), ["answer 2", "answer 3"]);
});
