import { Wallet } from "ethers";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import {
  buildGateway,
  openMigrated,
  policyRow,
  SEEDED_DEPLOYMENT,
  seedIndex,
  seedQueuedProposal,
} from "../../services/devkit/gateway.ts";
import { startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { type CallInput, createEnforcer } from "../../services/gateway/enforcer.ts";
import { createKeyCache } from "../../services/gateway/key-cache.ts";
import { createPolicyStore, type PolicyStore } from "../../services/gateway/policy-store.ts";
import { GOVERNANCE_CHANNEL } from "../../services/indexer/notifications.ts";
import type { GovernanceState } from "../../services/policy/after-actions.ts";
import { type Shadow, shadowsOf } from "../../services/policy/shadow.ts";
import type { ModelPolicy } from "../../services/policy/types.ts";
import { loadConfig } from "../../services/shared/config.ts";
import { createLogger } from "../../services/shared/logger.ts";
import { createMetrics } from "../../services/shared/metrics.ts";

/**
 * A shadow evaluation that throws changes nothing of the live path: the enforcer (real Postgres, the real
 * policy store) is given, beside a working shadow, one whose policies throw when read — the fault a bug in
 * a shadow snapshot would be. The call is decided and recorded live as without shadows, the failure is
 * recorded as such (`o` null) and counted.
 */
const database = await openMigrated(t, await createTestDatabase(t));
const alice = Wallet.createRandom().address;
await seedIndex(database, {
  policies: [policyRow("m-open", { allowed_purposes: [], blocked_terms: [] })],
  grants: [{ grantId: 1, grantee: alice, tokensPerEpoch: 100_000 }],
});
const deps = {
  config: loadConfig({ LOG_LEVEL: "silent" }),
  logger: createLogger("silent"),
  database,
  metrics: createMetrics(),
  now: Date.now,
};
const store = await createPolicyStore(deps);
t.teardown(() => store.stop());
const keys = await createKeyCache(database);
t.teardown(() => keys.stop());

/** Policies whose every model lookup throws. */
class FaultyModels extends Map<string, ModelPolicy> {
  override get(): ModelPolicy | undefined {
    throw new Error("a fault in a shadow snapshot");
  }
}
const live = store.current();
const state: GovernanceState = { policies: live, governor: {}, guardian: {}, nextGrantId: 2n };
const faulty: Shadow = { proposalId: "101", policies: { ...live, models: new FaultyModels(live.models) } };
const [suspending] = shadowsOf(state, [
  { proposalId: "102", eta: 1, actions: [{ kind: "SUSPEND_MODEL", modelId: "m-open", reason: "review" }] },
]);
const shadowed: PolicyStore = { ...store, shadows: () => [faulty, suspending as Shadow] };
const enforcer = createEnforcer(deps, shadowed, keys);
t.teardown(() => enforcer.close());
const plain = createEnforcer(deps, store, keys);
t.teardown(() => plain.close());

const issued = await issueApiKey(database.db, { address: alice });
const key = await enforcer.authenticate(`Bearer ${issued.key}`);
if (key === null) throw new Error("the key was not found");
const input = (o: Partial<CallInput> = {}): CallInput => ({
  endpoint: "chat.completions",
  key,
  modelId: "m-open",
  purpose: null,
  content: "hello",
  promptTokens: 10,
  maxTokens: 20,
  choices: 1,
  answeredAfterSettlement: true,
  served: true,
  ...o,
});

const record = (requestId: string) =>
  database.db
    .selectFrom("gateway_decisions")
    .select(["admitted", "reason_code", "outcome", "tokens_reserved", "shadow"])
    .where("request_id", "=", requestId)
    .executeTakeFirstOrThrow();

t.test("an admitted call is answered as without shadows; the failed shadow is recorded and counted", async (t) => {
  const withShadows = await enforcer.admit(input());
  const without = await plain.admit(input());
  t.equal(withShadows.admitted, true);
  t.equal(without.admitted, true);
  if (!withShadows.admitted || !without.admitted) return;
  t.same(withShadows.decision.reserve, without.decision.reserve);
  // The second call sees the first's reservation: the same budget, 30 tokens less.
  t.same(
    without.decision.sources.map((s) => [s.account, s.remaining]),
    withShadows.decision.sources.map((s) => [s.account, s.remaining - 30]),
  );
  t.equal(withShadows.headers["x-commons-budget-remaining"], String(100_000 - 30));
  for (const admission of [withShadows, without]) {
    await enforcer.settle(admission, {
      charged: 12,
      outcome: "COMPLETED",
      upstreamMs: 1,
      provider: null,
      completionTokens: 12,
      requestHash: null,
      responseHash: null,
    });
  }
  const [one, two] = [await record(withShadows.requestId), await record(without.requestId)];
  t.same(
    { ...one, shadow: null },
    { ...two, shadow: null },
    "the live columns are those of the call decided without shadows",
  );
  t.same(one.shadow, { "101": { o: null }, "102": { o: "MODEL_SUSPENDED" } });
  t.equal(two.shadow, null);
  const failures = (await deps.metrics.shadowFailures.get()).values[0]?.value;
  t.equal(failures, 1, "the failure is counted");
});

t.test("a refused call is refused as without shadows, its shadows recorded", async (t) => {
  const refused = await enforcer.admit(input({ maxTokens: 100_000 }));
  t.equal(refused.admitted, false);
  if (refused.admitted) return;
  t.equal(refused.reason, "MAX_TOKENS_EXCEEDED");
  const row = await record(refused.requestId);
  t.same(row, {
    admitted: false,
    reason_code: "MAX_TOKENS_EXCEEDED",
    outcome: "REFUSED",
    tokens_reserved: 0,
    shadow: { "101": { o: null }, "102": { o: "MODEL_SUSPENDED" } },
  });
});

t.test("calls admitted on this replica's slice of a grant carry their shadows too", async (t) => {
  // After a first call, the hint is fresh and the grant's slice serves calls without a reservation.
  const ids: string[] = [];
  let leased = 0;
  for (let i = 0; i < 5; i++) {
    const admission = await enforcer.admit(input());
    if (!admission.admitted) throw new Error("refused");
    ids.push(admission.requestId);
    if (admission.leased !== null) leased++;
    await enforcer.settle(admission, {
      charged: 5,
      outcome: "COMPLETED",
      upstreamMs: 1,
      provider: null,
      completionTokens: 5,
      requestHash: null,
      responseHash: null,
    });
  }
  const rows = await Promise.all(ids.map(record));
  t.ok(leased > 0, "some calls were admitted on the slice (their record is written by the settlement)");
  t.ok(
    rows.every((r) => r.outcome === "COMPLETED"),
    "every call settled",
  );
  t.same(
    rows.map((r) => r.shadow),
    ids.map(() => ({ "101": { o: null }, "102": { o: "MODEL_SUSPENDED" } })),
  );
});

// Nothing shadowed: the records say so with null, as before migration 0021.
t.test("without queued proposals nothing is shadowed", async (t) => {
  const admission = await plain.admit(input({ purpose: "x" }));
  t.equal(admission.admitted, true);
  t.equal((await record(admission.requestId)).shadow, null);
  t.same(store.shadows(), [], "a store without a deployment shadows nothing");
});

t.test("a gateway shadows the proposals queued in the index, through HTTP, until they leave the queue", async (t) => {
  const upstream = await startTestUpstream();
  t.teardown(() => upstream.close());
  const gateway = await buildGateway(t, { database, upstreamUrl: upstream.url, deployment: SEEDED_DEPLOYMENT });
  const client = gateway.client(issued.key);
  const ask = () =>
    client.chat.completions.create({ model: "m-open", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
  const newest = () =>
    database.db
      .selectFrom("gateway_decisions")
      .select("shadow")
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirstOrThrow();

  await seedQueuedProposal(database, "201", [{ kind: "SUSPEND_MODEL", modelId: "m-open", reason: "review" }]);
  const shadowed = await until(async () => {
    const answer = await ask();
    const { shadow } = await newest();
    return shadow === null ? undefined : { answer, shadow };
  }, "the queued proposal shadowed");
  t.equal(shadowed.answer.object, "chat.completion", "the call is answered: the suspension is not in force");
  t.same(shadowed.shadow, { "201": { o: "MODEL_SUSPENDED" } });

  // Executed: the indexer marks it so and announces it; the gateway stops shadowing it.
  await database.db.updateTable("proposals").set({ status: "EXECUTED" }).where("id", "=", "201").execute();
  await database.notify(GOVERNANCE_CHANNEL, JSON.stringify({ type: "proposal", proposalId: "201" }));
  await until(async () => {
    await ask();
    return (await newest()).shadow === null ? true : undefined;
  }, "the executed proposal no longer shadowed");
});
