import { id, Wallet } from "ethers";
import fc from "fast-check";
import OpenAI from "openai";
import t from "tap";
import type { ActionInput } from "../../services/cli/gql/graphql.ts";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { signInForApiKey } from "../../services/cli/sign-in.ts";
import { startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { createUpstream } from "../../services/gateway/upstream.ts";
import { build, enact, passProposal, proposeDraft } from "../helpers/app.ts";
import { adHoc } from "../helpers/graphql.ts";

/**
 * Differential: random histories of calls go through the gateway, a random policy change is proposed,
 * proposalImpact replays the history under it; then the change is executed and the same calls are made
 * again. What the replay said must be what the gateway did, call outcome by call outcome, and tokens per
 * budget. The gateway's clock is the test's, so both runs fall on the same second of their minute and
 * epoch (each run in epochs of its own, so budgets and rate limits start afresh).
 */
const OPERATOR_TOKEN = "operator-token-for-impact-tests";
const EPOCH = 86_400;
const upstreamServer = await startTestUpstream();
t.teardown(() => upstreamServer.close());
const clock: { at: number | null } = { at: null };
const service = await build(t, {
  upstream: createUpstream({ url: upstreamServer.url, timeoutMs: 10_000 }),
  now: () => clock.at ?? Date.now(),
  env: { ALLOW_STALE_POLICY: "true", OPERATOR_TOKEN },
});
const api = createGraphqlClient(service.urls.http);
const operator = createGraphqlClient(service.urls.http, { apiKey: OPERATOR_TOKEN });

const consumers = [Wallet.createRandom(), Wallet.createRandom(), Wallet.createRandom()];
const keys = await Promise.all(consumers.map((w) => signInForApiKey(api, service.urls.http, w)));
// Lists every approved model in /v1/models (its grant, grant 1, covers any model and is never revoked).
const prober = Wallet.createRandom();
const proberKey = await signInForApiKey(api, service.urls.http, prober);
/** Each run calls models of its own, set up by the run before: a suspension does not end the story. */
const modelsOf = (run: number) => [`rp-1-${run}`, `rp-2-${run}`] as const;
const setupFor = (run: number) => {
  const [first, second] = modelsOf(run);
  return [
    modelPolicy(first, { max: 64, rpm: 3, purposes: ["education", "research"] }),
    modelPolicy(second, { max: 32, rpm: 5, purposes: [] }),
    grant(0, 300, first),
  ];
};

const modelPolicy = (modelId: string, o: { approved?: boolean; max: number; rpm: number; purposes: string[] }) => ({
  setModelPolicy: {
    modelId,
    approved: o.approved ?? true,
    maxTokensPerRequest: o.max,
    requestsPerMinute: o.rpm,
    allowedPurposes: o.purposes,
    blockedTerms: [],
    guidelineUri: `https://example.org/${modelId}`,
    guidelineHash: id(modelId),
  },
});
const grant = (consumer: number, tokens: number, modelId = "", grantee = consumers[consumer]?.address) => ({
  grantAllocation: {
    grantee,
    modelId,
    tokensPerEpoch: String(tokens),
    start: 0,
    end: 4_000_000_000,
  },
});

await enact(service, [
  grant(-1, 1, "", prober.address),
  ...setupFor(0),
  grant(1, 200),
  { setCommunityPool: { allowancePerAddress: "150", poolSizePerEpoch: "400", epochLength: EPOCH } },
]);

interface Call {
  consumer: number;
  /** 0 and 1: the run's models; 2: a model governance never approved. */
  model: number;
  purpose: string | null;
  maxTokens: number;
  words: number;
  /** Seconds after the run's start. */
  at: number;
}

// Mostly calls that pass the request's own checks, close together: rate limits and budgets then bind.
const call: fc.Arbitrary<Call> = fc.record({
  consumer: fc.constantFrom(0, 0, 1, 2),
  model: fc.constantFrom(0, 0, 0, 1, 2),
  purpose: fc.constantFrom("education", "education", "research", null),
  maxTokens: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 30 }) }, fc.integer({ min: 31, max: 70 })),
  words: fc.integer({ min: 1, max: 6 }),
  at: fc.integer({ min: 0, max: 75 }),
});

const policyChange = fc
  .record({
    model: fc.constantFrom(0, 1),
    approved: fc.constantFrom(true, true, true, false),
    max: fc.constantFrom(16, 32, 64, 128),
    rpm: fc.constantFrom(1, 2, 3, 5),
    purposes: fc.uniqueArray(fc.constantFrom("education", "research"), { maxLength: 2 }),
  })
  .map((p) => (run: number) => modelPolicy(modelsOf(run)[p.model] as string, p));
const suspension = fc
  .constantFrom(0, 1)
  .map((model) => (run: number) => ({ suspendModel: { modelId: modelsOf(run)[model], reason: "review" } }));
const newGrant = fc
  .record({
    consumer: fc.nat({ max: consumers.length - 1 }),
    tokens: fc.constantFrom(50, 120, 400),
    model: fc.constantFrom(null, 0, 1),
  })
  .map((g) => (run: number) => grant(g.consumer, g.tokens, g.model === null ? "" : modelsOf(run)[g.model]));
// Grant 1 is the prober's: revocations pick among the others.
const revocation = fc.nat({ max: 5 }).map((n) => () => ({ revokeAllocation: { grantId: String(n + 2) } }));
const pool = fc
  .record({ allowance: fc.constantFrom(0, 60, 150), extra: fc.constantFrom(0, 100, 1000) })
  .map((p) => () => ({
    setCommunityPool: {
      allowancePerAddress: String(p.allowance),
      poolSizePerEpoch: String(p.allowance + p.extra),
      epochLength: EPOCH,
    },
  }));
/** A change to a run's models, grants or the pool, as actions once the run is known. */
type ActionOf = (run: number) => ActionInput;
const change: fc.Arbitrary<ActionOf[]> = fc.array<ActionOf>(
  fc.oneof(
    { weight: 4, arbitrary: policyChange },
    { weight: 1, arbitrary: suspension },
    { weight: 3, arbitrary: newGrant },
    { weight: 1, arbitrary: revocation },
    { weight: 2, arbitrary: pool },
  ),
  { minLength: 1, maxLength: 3 },
);

/** Makes the calls with the gateway's clock at `start` + each call's offset; returns each outcome. */
async function makeCalls(calls: Call[], run: number, start: number): Promise<string[]> {
  const outcomes: string[] = [];
  for (const c of calls) {
    clock.at = (start + c.at) * 1000;
    const client = new OpenAI({
      apiKey: keys[c.consumer]?.key,
      baseURL: service.urls.gateway,
      maxRetries: 0,
      defaultHeaders: c.purpose ? { "x-commons-purpose": c.purpose } : {},
    });
    try {
      await client.chat.completions.create({
        model: [...modelsOf(run), "rp-never"][c.model] as string,
        max_tokens: c.maxTokens,
        messages: [{ role: "user", content: "commons ".repeat(c.words) }],
      });
      outcomes.push("ADMITTED");
    } catch (error) {
      if (!(error instanceof OpenAI.APIError)) throw error;
      outcomes.push(String(error.code));
    }
  }
  clock.at = null;
  return outcomes;
}

interface Replay {
  calls: number;
  evaluated: number;
  notEvaluable: { reason: string; calls: number }[];
  before: { outcome: string; calls: number }[];
  after: { outcome: string; calls: number }[];
  newlyRefused: number;
  newlyAdmitted: number;
  changes: { from: string; to: string; calls: number; consumers: number }[];
  budgets: { budget: string; tokensBefore: number; tokensAfter: number }[];
  consumers: { consumer: string; newlyRefused: number; newlyAdmitted: number }[];
}

const counts = (outcomes: string[]) => {
  const map = new Map<string, number>();
  for (const o of outcomes) map.set(o, (map.get(o) ?? 0) + 1);
  return Object.fromEntries([...map].sort());
};
const listed = (list: { outcome: string; calls: number }[]) =>
  Object.fromEntries(list.map((o) => [o.outcome, o.calls]).sort());

/** Tokens charged per budget (`grant:<id>`, `pool`) in one epoch, from the ledger. */
async function ledgerTokens(epochStart: number): Promise<Record<string, number>> {
  const tokens: Record<string, number> = {};
  for (const w of consumers) {
    const { usage } = await operator.request(
      adHoc<
        {
          usage: { source: string; grantId: string | null; tokensUsed: string }[];
        },
        Record<string, unknown>
      >("query ($c: Address, $e: Timestamp) { usage(consumer: $c, epochStart: $e) { source grantId tokensUsed } }"),
      {
        c: w.address,
        e: epochStart,
      },
    );
    for (const u of usage) {
      const budget = u.source === "grant" ? `grant:${u.grantId}` : "pool";
      tokens[budget] = (tokens[budget] ?? 0) + Number(u.tokensUsed);
    }
  }
  return Object.fromEntries(
    Object.entries(tokens)
      .filter(([, n]) => n > 0)
      .sort(),
  );
}

const base = (Math.floor(Date.now() / 1000 / EPOCH) + 30) * EPOCH;
let run = 0;

t.test("the replay's counts are what the gateway decides once the change is executed", async (t) => {
  let compared = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(call, { minLength: 8, maxLength: 22 }), change, async (history, actions) => {
      const r = run++;
      const calls = [...history].sort((a, b) => a.at - b.at);
      // Each run in epochs of its own, at the same offset into them: fresh budgets and minutes.
      const firstStart = base + 4 * r * EPOCH + 600;
      const secondStart = firstStart + 2 * EPOCH;
      const probe = `probe-${r}`;

      // The window holds this run's calls only: it starts on a second no earlier call was made in.
      const previous = Math.floor(Date.now() / 1000);
      await until(async () => (Math.floor(Date.now() / 1000) > previous ? true : undefined), "the next second");
      const since = Math.floor(Date.now() / 1000);
      const first = await makeCalls(calls, r, firstStart);
      const untilS = Math.floor(Date.now() / 1000) + 1;

      // A probe model shows when the gateway has the change (a refreshed snapshot holds all of it).
      // The next run's models come with this change: they get no calls in this run.
      const proposal = [
        ...actions.map((a) => a(r)),
        ...setupFor(r + 1),
        modelPolicy(probe, { max: 8, rpm: 1, purposes: [] }),
      ];
      const { draftProposal } = await api.request(
        adHoc<
          {
            draftProposal: { impact: { diff: { problems: { index: number }[] } } };
          },
          Record<string, unknown>
        >(
          "mutation ($input: DraftProposalInput!) { draftProposal(input: $input) { impact { diff { problems { index } } } } }",
        ),
        { input: { description: `check ${r}`, actions: proposal, proposer: prober.address } },
      );
      // Actions the contracts would refuse (revoking a revoked grant...) would revert the whole proposal.
      const refused = new Set(draftProposal.impact.diff.problems.map((p) => p.index));
      const proposalId = await proposeDraft(
        service,
        proposal.filter((_, i) => !refused.has(i)),
      );
      const { proposalImpact } = await operator.request(
        adHoc<
          { proposalImpact: { replay: Replay } },
          Record<string, unknown>
        >(`query ($id: BigInt!, $since: Timestamp, $until: Timestamp) { proposalImpact(proposalId: $id) { replay(since: $since, until: $until) {
          calls evaluated notEvaluable { reason calls } before { outcome calls } after { outcome calls }
          newlyRefused newlyAdmitted changes { from to calls consumers } budgets { budget tokensBefore tokensAfter }
          consumers(first: 100) { consumer newlyRefused newlyAdmitted } } } }`),
        { id: proposalId, since, until: untilS },
      );
      const replay = proposalImpact.replay;

      await passProposal(service, proposalId);
      await until(async () => {
        const models = (await (
          await fetch(`${service.urls.gateway}/models`, { headers: { authorization: `Bearer ${proberKey.key}` } })
        ).json()) as { data: { id: string }[] };
        return models.data.some((m) => m.id === probe) ? true : undefined;
      }, "the gateway to enforce the change");
      const second = await makeCalls(calls, r, secondStart);

      t.equal(replay.calls, calls.length, "the window holds the run's calls");
      t.same(replay.notEvaluable, []);
      t.same(listed(replay.before), counts(first), "replayed under the policies in force: what happened");
      t.same(listed(replay.after), counts(second), "replayed under the change: what the gateway then did");
      const transitions = new Map<string, { calls: number; consumers: Set<number> }>();
      first.forEach((from, i) => {
        const to = second[i] as string;
        if (from === to) return;
        const key = `${from}>${to}`;
        const entry = transitions.get(key) ?? { calls: 0, consumers: new Set<number>() };
        entry.calls++;
        entry.consumers.add((calls[i] as Call).consumer);
        transitions.set(key, entry);
      });
      t.same(
        Object.fromEntries(replay.changes.map((c) => [`${c.from}>${c.to}`, [c.calls, c.consumers]]).sort()),
        Object.fromEntries([...transitions].map(([k, v]) => [k, [v.calls, v.consumers.size]]).sort()),
        "the calls that change outcome, by outcome before and after, and how many consumers",
      );
      const budgets = (side: "tokensBefore" | "tokensAfter") =>
        Object.fromEntries(
          replay.budgets
            .filter((b) => b[side] > 0)
            .map((b) => [b.budget, b[side]])
            .sort(),
        );
      t.same(budgets("tokensBefore"), await ledgerTokens(firstStart - 600), "tokens per budget before");
      t.same(budgets("tokensAfter"), await ledgerTokens(secondStart - 600), "tokens per budget after");
      t.equal(replay.consumers.length, new Set([...transitions.values()].flatMap((v) => [...v.consumers])).size);
      compared += calls.length;
      t.comment(
        `run ${r}: ${JSON.stringify(counts(first))} -> ${JSON.stringify(counts(second))} by ${JSON.stringify(proposal.slice(0, actions.length))} refused ${[...refused]}`,
      );
    }),
    { numRuns: Number(process.env.IMPACT_RUNS ?? 6), seed: Number(process.env.IMPACT_SEED ?? 14), endOnFailure: true },
  );
  t.ok(compared > 0);
});
