import t from "tap";
import { createFlushGroup } from "../../services/gateway/flush-group.ts";

/** A flush that completes when the test says so, recording when each one started. */
function manualFlush() {
  const pending: (() => void)[] = [];
  let started = 0;
  return {
    flush: () =>
      new Promise<void>((resolve) => {
        started++;
        pending.push(resolve);
      }),
    started: () => started,
    completeNext: async () => {
      (pending.shift() as () => void)();
      // Let the group's continuations run.
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
  };
}

t.test("a caller is only released by a flush that started after it asked", async (t) => {
  const disk = manualFlush();
  const group = createFlushGroup(disk.flush);
  const settled: string[] = [];
  group.durable().then(() => settled.push("first"));
  t.equal(disk.started(), 1);
  // Committed while the first flush runs: that flush may not cover it.
  group.durable().then(() => settled.push("second"));
  group.durable().then(() => settled.push("third"));
  t.equal(disk.started(), 1, "the later callers wait for the next flush instead of starting their own");
  await disk.completeNext();
  t.same(settled, ["first"], "the flush in progress releases only the caller that was before it");
  t.equal(disk.started(), 2, "the next flush starts as soon as the previous one ends");
  await disk.completeNext();
  t.same(settled, ["first", "second", "third"], "one flush serves every caller that waited for it");
});

t.test("a failed flush fails its callers, and the next caller gets a new flush", async (t) => {
  let fail = true;
  const group = createFlushGroup(async () => {
    if (fail) throw new Error("disk gone");
  });
  await t.rejects(group.durable(), /disk gone/);
  fail = false;
  await t.resolves(group.durable());
});
