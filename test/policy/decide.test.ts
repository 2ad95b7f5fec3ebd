import fc from "fast-check";
import t from "tap";
import { blockedTermForm } from "../../services/policy/content.ts";
import { checkOrder, decide } from "../../services/policy/decide.ts";
import type { ConsumerUsage, DecisionRequest, ModelPolicy, PolicySnapshot } from "../../services/policy/types.ts";
import { nowArb, requestArb, snapshotArb, usageArb } from "./fixtures.ts";

type Rule = (typeof checkOrder)[number];

/**
 * The rules written out independently of decide(), one predicate per reason code: true when the call
 * breaks the rule. The budget rule is "no single budget has room for the worst case".
 */
function brokenRules(s: PolicySnapshot, r: DecisionRequest, u: ConsumerUsage, now: number): Set<Rule> {
  const broken = new Set<Rule>();
  const model = s.models.get(r.modelId);
  if (r.consumer === null) broken.add("INVALID_API_KEY");
  if (!s.settings.allowStale && (s.index === null || now - s.index.heartbeatAt > s.settings.maxStalenessMs)) {
    broken.add("POLICY_STATE_STALE");
  }
  if (!model?.approved) broken.add("MODEL_NOT_APPROVED");
  // A guardian's suspension is enforced only until it lapses (suspendedUntil, Unix seconds).
  if (model?.suspended && (model.suspendedUntil === null || now < model.suspendedUntil * 1000)) {
    broken.add("MODEL_SUSPENDED");
  }
  if (model && model.allowedPurposes.length > 0) {
    const allowed = model.allowedPurposes.map((p) => p.toLowerCase());
    if (r.purpose === null || !allowed.includes(r.purpose)) broken.add("PURPOSE_NOT_ALLOWED");
  }
  if (model?.blockedTerms.some((term) => r.content.includes(blockedTermForm(term)))) broken.add("CONTENT_BLOCKED");
  const choices = r.choices ?? 1;
  // Each completion's bound: as asked, else the default within the limit the completions share.
  const bound = (m: ModelPolicy) =>
    r.maxTokens ?? Math.min(s.settings.defaultMaxTokens, Math.floor(m.maxTokensPerRequest / choices));
  if (model && (bound(model) * choices > model.maxTokensPerRequest || (r.maxTokens === null && bound(model) < 1))) {
    broken.add("MAX_TOKENS_EXCEEDED");
  }
  if (model && u.requestsThisMinute >= model.requestsPerMinute) broken.add("RATE_LIMITED");
  if (model && r.consumer !== null) {
    const cost = r.promptTokens + bound(model) * choices;
    const t = Math.floor(now / 1000);
    const grantRoom = (s.grantsByConsumer.get(r.consumer) ?? [])
      .filter((g) => g.start <= t && t < g.end && (g.modelId === "" || g.modelId === r.modelId))
      .map((g) => g.tokensPerEpoch - (u.grantSpent.get(`grant:${g.grantId}`) ?? 0));
    // The pool only for an address whose voting power at this epoch's start reaches the minimum.
    const eligible =
      s.pool.minVotes === 0n ||
      (r.poolStanding !== null &&
        r.poolStanding.epochStart === t - (t % s.pool.epochLength) &&
        r.poolStanding.votes >= s.pool.minVotes);
    const poolRoom = eligible
      ? Math.min(s.pool.allowancePerAddress - u.poolSpent, s.pool.poolSizePerEpoch - u.poolTotalSpent)
      : 0;
    if (![...grantRoom, poolRoom].some((room) => room >= cost)) broken.add("BUDGET_EXHAUSTED");
  }
  return broken;
}

const params = { numRuns: 20_000 };

t.test("never admits a call that breaks a rule, and refuses with the first rule broken", async (t) => {
  fc.assert(
    fc.property(snapshotArb, requestArb, usageArb, nowArb, (s, r, u, now) => {
      const decision = decide(s, r, u, now);
      const broken = brokenRules(s, r, u, now);
      const first = checkOrder.find((rule) => broken.has(rule));
      if (first === undefined) return decision.admitted;
      return !decision.admitted && decision.reason === first;
    }),
    params,
  );
  t.pass("property held");
});

t.test("an admitted call reserves its worst case from budgets that have room for it", async (t) => {
  fc.assert(
    fc.property(snapshotArb, requestArb, usageArb, nowArb, (s, r, u, now) => {
      const d = decide(s, r, u, now);
      if (!d.admitted) return true;
      const model = s.models.get(r.modelId);
      return (
        model !== undefined &&
        d.maxTokens <= model.maxTokensPerRequest &&
        d.maxTokens * (r.choices ?? 1) <= model.maxTokensPerRequest &&
        d.reserve === r.promptTokens + d.maxTokens * (r.choices ?? 1) &&
        d.sources.length > 0 &&
        d.sources.every((src) => src.remaining >= d.reserve) &&
        // grants are offered before the pool
        d.sources.every((src, i) => src.kind === "grant" || i === d.sources.length - 1) &&
        d.epochStart % s.pool.epochLength === 0 &&
        d.epochStart <= now / 1000 &&
        now / 1000 < d.epochStart + s.pool.epochLength
      );
    }),
    params,
  );
  t.pass("property held");
});

t.test("every reason code except UPSTREAM_ERROR is reachable by the generators", async (t) => {
  const seen = new Set<string>();
  fc.assert(
    fc.property(snapshotArb, requestArb, usageArb, nowArb, (s, r, u, now) => {
      const d = decide(s, r, u, now);
      seen.add(d.admitted ? "ADMITTED" : d.reason);
    }),
    params,
  );
  t.same([...seen].sort(), ["ADMITTED", ...checkOrder].sort());
});

t.test(
  "the pool is a source only for a consumer whose voting power at the epoch's start reaches the minimum",
  async (t) => {
    const consumer = "0x1111111111111111111111111111111111111111";
    const epochStart = 1_800_000_000 - (1_800_000_000 % 86_400);
    const base = fc.sample(snapshotArb, { numRuns: 1, seed: 1 })[0] as PolicySnapshot;
    const model = {
      ...(base.models.values().next().value as NonNullable<ReturnType<typeof base.models.get>>),
      modelId: "open",
      approved: true,
      suspended: false,
      allowedPurposeSet: new Set<string>(),
      allowedPurposes: [],
      blockedTermsLower: [],
      maxTokensPerRequest: 100,
      requestsPerMinute: 10,
    };
    const snapshot: PolicySnapshot = {
      ...base,
      models: new Map([["open", model]]),
      grantsByConsumer: new Map(),
      pool: { ...base.pool, allowancePerAddress: 500, poolSizePerEpoch: 10_000, epochLength: 86_400, minVotes: 100n },
      settings: { ...base.settings, allowStale: true },
    };
    const request = (poolStanding: DecisionRequest["poolStanding"]): DecisionRequest => ({
      consumer,
      modelId: "open",
      purpose: null,
      content: "",
      promptTokens: 10,
      maxTokens: 50,
      poolStanding,
    });
    const usage: ConsumerUsage = { requestsThisMinute: 0, grantSpent: new Map(), poolSpent: 0, poolTotalSpent: 0 };
    const now = 1_800_000_000_000;

    const eligible = decide(snapshot, request({ epochStart, votes: 100n }), usage, now);
    t.match(eligible, { admitted: true, sources: [{ kind: "pool", account: `pool:${consumer}` }] });

    const refusals = [
      [
        "too little voting power",
        { epochStart, votes: 99n },
        /requires 100 voting power .* at the epoch start .*had 99/,
      ],
      ["voting power of another epoch", { epochStart: epochStart - 86_400, votes: 500n }, /not yet settled/],
      ["voting power not settled", null, /not yet settled/],
    ] as const;
    for (const [title, standing, message] of refusals) {
      const d = decide(snapshot, request(standing), usage, now);
      t.equal(d.admitted ? "ADMITTED" : d.reason, "BUDGET_EXHAUSTED", title);
      t.match(d.admitted ? "" : d.message, message, `${title}: the message says what the pool requires`);
    }

    const withGrant: PolicySnapshot = {
      ...snapshot,
      grantsByConsumer: new Map([
        [
          consumer,
          [
            {
              grantId: "1",
              account: "grant:1",
              grantee: consumer,
              modelId: "",
              tokensPerEpoch: 1_000,
              start: 0,
              end: 4_000_000_000,
              provenance: { proposalId: null, txHash: "0x", blockNumber: 1, blockTime: 1 },
            },
          ],
        ],
      ]),
    };
    const served = decide(withGrant, request(null), usage, now);
    t.same(
      served.admitted ? served.sources.map((source) => source.kind) : served.reason,
      ["grant"],
      "a grant still serves a consumer the pool leaves out, and the pool is not offered",
    );

    const open = { ...snapshot, pool: { ...snapshot.pool, minVotes: 0n } };
    t.match(decide(open, request(null), usage, now), { admitted: true, sources: [{ kind: "pool" }] }, "0: anyone");
  },
);
