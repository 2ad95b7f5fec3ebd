import t from "tap";
import { createSpendingHints } from "../../services/gateway/spending-hints.ts";

const usage = { requestsThisMinute: 3, grantSpent: new Map([["grant:1", 40]]), poolSpent: 5, poolTotalSpent: 900 };

t.test("a hint is the last full read, moved by this replica's own statements", async (t) => {
  const now = 0;
  const hints = createSpendingHints({ ttlMs: 1000, clock: () => now });
  t.equal(hints.get("0xA", "m", 60, 0), null, "nothing known: the enforcer must read");
  hints.replace("0xA", "m", 60, 0, usage);
  t.match(hints.get("0xA", "m", 60, 0), { requestsThisMinute: 3, poolSpent: 5, poolTotalSpent: 900 });
  hints.update("0xA", "m", 0, {
    spent: new Map([
      ["grant:1", 70],
      ["pool", 950],
    ]),
    requestsThisMinute: 4,
  });
  const moved = hints.get("0xA", "m", 60, 0);
  t.equal(moved?.grantSpent.get("grant:1"), 70);
  t.equal(moved?.poolTotalSpent, 950);
  t.equal(moved?.poolSpent, 5, "rows a statement did not return keep their value");
  t.equal(moved?.requestsThisMinute, 4);
  t.equal(hints.get("0xA", "other-model", 60, 0), null, "per model: the per-minute counter is");
});

t.test("a hint is not used once too old, or in another minute or epoch", async (t) => {
  let now = 0;
  const hints = createSpendingHints({ ttlMs: 1000, clock: () => now });
  hints.replace("0xA", "m", 60, 0, usage);
  t.equal(hints.get("0xA", "m", 120, 0), null, "a new minute");
  t.equal(hints.get("0xA", "m", 60, 86_400), null, "a new epoch");
  now = 999;
  t.not(hints.get("0xA", "m", 60, 0), null);
  hints.update("0xA", "m", 0, { spent: new Map([["grant:1", 1]]) });
  now = 1001;
  t.equal(hints.get("0xA", "m", 60, 0), null, "updates do not extend its life: other replicas' spending is re-read");
});

t.test("the number of hints is bounded", async (t) => {
  const hints = createSpendingHints({ maxEntries: 2 });
  hints.replace("0xA", "m", 60, 0, usage);
  hints.replace("0xB", "m", 60, 0, usage);
  hints.replace("0xC", "m", 60, 0, usage);
  t.equal(hints.get("0xA", "m", 60, 0), null, "the oldest is dropped");
  t.not(hints.get("0xC", "m", 60, 0), null);
});
