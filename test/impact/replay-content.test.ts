import assert from "node:assert/strict";
import fc from "fast-check";
import t from "tap";
import type { Action } from "../../services/chain/actions.ts";
import { stateAfter } from "../../services/policy/after-actions.ts";
import { decide } from "../../services/policy/decide.ts";
import { type AuditedCall, createReplay } from "../../services/policy/replay.ts";
import type { PolicySnapshot } from "../../services/policy/types.ts";
import { modelIds, nowArb, requestArb, snapshotArb, terms } from "../policy/fixtures.ts";

/**
 * The audit keeps no content, so a replay must never guess a content rule: for any call, policies and
 * change of blocked terms, it either decides exactly as decide() does with the real content (under the
 * policies in force and after the change), or counts the call as not evaluable.
 */
const NO_USAGE = { requestsThisMinute: 0, grantSpent: new Map(), poolSpent: 0, poolTotalSpent: 0 };
const replayable = (s: PolicySnapshot): PolicySnapshot => ({ ...s, settings: { ...s.settings, allowStale: true } });

const termsChange = fc.record({
  modelId: fc.constantFrom(...modelIds),
  blockedTerms: fc.subarray(terms),
});

t.test("a replay decides a call as its content would, or says it cannot", async (t) => {
  const seen = { evaluatedWithTerms: 0, notEvaluable: 0 };
  fc.assert(
    fc.property(snapshotArb, requestArb, termsChange, nowArb, (snapshot, request, change, now) => {
      const before = replayable(snapshot);
      const current = before.models.get(change.modelId);
      const actions: Action[] = current
        ? [
            {
              kind: "SET_MODEL_POLICY",
              modelId: current.modelId,
              approved: current.approved,
              maxTokensPerRequest: current.maxTokensPerRequest,
              requestsPerMinute: current.requestsPerMinute,
              allowedPurposes: [...current.allowedPurposes],
              blockedTerms: change.blockedTerms,
              guidelineUri: current.guidelineUri,
              guidelineHash: current.guidelineHash,
            },
          ]
        : [];
      const after = stateAfter({ policies: before, governor: {}, guardian: {}, nextGrantId: 100n }, actions, {
        proposalId: "9",
        txHash: "",
        blockNumber: 0,
        blockTime: 0,
      }).state.policies;
      const truth = [decide(before, request, NO_USAGE, now), decide(after, request, NO_USAGE, now)];
      const [was] = truth;
      if (was === undefined) return;
      const record: AuditedCall = {
        decidedAtMs: now,
        consumer: request.consumer,
        modelId: request.modelId,
        purpose: request.purpose,
        promptTokens: request.promptTokens,
        maxTokens: request.maxTokens,
        choices: request.choices ?? null,
        poolEpochStart: request.poolStanding?.epochStart ?? null,
        poolVotes: request.poolStanding?.votes.toString() ?? null,
        admitted: was.admitted,
        reasonCode: was.admitted ? null : was.reason,
        policyVersion: was.model?.version ?? null,
        tokensUsed: was.admitted ? was.reserve : 0,
      };
      const replay = createReplay(before, after);
      replay.add(record);
      const result = replay.result();
      if (result.evaluated === 0) {
        // Content, or (a pool with a minimum, no standing recorded) voting power the audit lacks.
        const [[reason, calls]] = [...result.notEvaluable] as [[string, number]];
        assert.equal(calls, 1);
        assert.ok(reason === "CONTENT_RULES" || (reason === "POOL_STANDING" && request.poolStanding === null));
        if (reason === "CONTENT_RULES") seen.notEvaluable++;
        return;
      }
      const outcomes = truth.map((d) => (d.admitted ? "ADMITTED" : d.reason));
      assert.deepEqual([[...result.before.keys()], [...result.after.keys()]], [[outcomes[0]], [outcomes[1]]]);
      if ((after.models.get(request.modelId)?.blockedTermForms.length ?? 0) > 0) seen.evaluatedWithTerms++;
    }),
    { numRuns: 3000, seed: 14 },
  );
  t.ok(seen.evaluatedWithTerms > 50, `calls under content rules were replayed: ${JSON.stringify(seen)}`);
  t.ok(seen.notEvaluable > 20, "and others were said not to be evaluable");
});

t.test("records from before the audit kept the request's size are counted, not replayed", async (t) => {
  const replay = createReplay(
    fc.sample(snapshotArb, { numRuns: 1, seed: 1 })[0] as PolicySnapshot,
    fc.sample(snapshotArb, { numRuns: 1, seed: 2 })[0] as PolicySnapshot,
  );
  const old: AuditedCall = {
    decidedAtMs: 1_800_000_000_000,
    consumer: "0x1111111111111111111111111111111111111111",
    modelId: "m-a",
    purpose: null,
    promptTokens: null,
    maxTokens: null,
    choices: null,
    poolEpochStart: null,
    poolVotes: null,
    admitted: true,
    reasonCode: null,
    policyVersion: 1,
    tokensUsed: 10,
  };
  replay.add(old);
  replay.add(old);
  const result = replay.result();
  t.equal(result.calls, 2);
  t.equal(result.evaluated, 0);
  t.same([...result.notEvaluable], [["NOT_RECORDED", 2]]);
  t.same([...result.before], []);
});
