import { id, JsonRpcProvider, JsonRpcSigner, Wallet } from "ethers";
import OpenAI from "openai";
import t from "tap";
import { timelockOperationId } from "../../services/chain/timelock-operation.ts";
import { contractOf, executeProposal, send } from "../../services/cli/chain-actions.ts";
import { describeImpact } from "../../services/cli/commands/impact.ts";
import type { ActionInput } from "../../services/cli/gql/graphql.ts";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { PROPOSAL, PROPOSAL_IMPACT } from "../../services/cli/operations.ts";
import { signInForApiKey } from "../../services/cli/sign-in.ts";
import type { ShadowDecisions } from "../../services/db/gateway-tables.ts";
import { startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { createUpstream } from "../../services/gateway/upstream.ts";
import { build, enact, holderWallet, passProposal, proposeDraft } from "../helpers/app.ts";
import { adHoc } from "../helpers/graphql.ts";

/**
 * Shadow mode on the whole service: two proposals queued in the timelock, calls through the real openai
 * client decided live and in the shadow of each, the audit's shadow columns and proposalImpact.shadow; then
 * one executes and the other is canceled on the timelock, and both stop being shadowed.
 */
const upstreamServer = await startTestUpstream();
t.teardown(() => upstreamServer.close());
const service = await build(t, { upstream: createUpstream({ url: upstreamServer.url, timeoutMs: 10_000 }) });
const api = createGraphqlClient(service.urls.http);
const { db } = service.deps.database;
const { deployment } = service.deps;

const consumers = [Wallet.createRandom(), Wallet.createRandom()];
const keys = await Promise.all(consumers.map((w) => signInForApiKey(api, service.urls.http, w)));

const modelPolicy = (modelId: string, max: number): ActionInput => ({
  setModelPolicy: {
    modelId,
    approved: true,
    maxTokensPerRequest: max,
    requestsPerMinute: 1000,
    allowedPurposes: [],
    blockedTerms: [],
    guidelineUri: `https://example.org/${modelId}`,
    guidelineHash: id(modelId),
  },
});
const grant = (grantee: string, tokens: number): ActionInput => ({
  grantAllocation: { grantee, modelId: "", tokensPerEpoch: String(tokens), start: 0, end: 4_000_000_000 },
});

// Consumer 0 has a grant; consumer 1 nothing (the pool is empty) until the second proposal gives one.
await enact(service, [
  modelPolicy("sh-a", 64),
  modelPolicy("sh-b", 64),
  grant(consumers[0]?.address as string, 100_000),
  { setCommunityPool: { allowancePerAddress: "0", poolSizePerEpoch: "0", epochLength: 86_400 } },
]);
// P1 suspends sh-a; P2 lowers sh-b's limit to 16 tokens and gives consumer 1 a grant.
const p1 = await proposeDraft(service, [{ suspendModel: { modelId: "sh-a", reason: "review" } }]);
await passProposal(service, p1, { execute: false });
const p2 = await proposeDraft(service, [modelPolicy("sh-b", 16), grant(consumers[1]?.address as string, 5_000)]);
await passProposal(service, p2, { execute: false });

/** Makes one call; returns its outcome (ADMITTED or the error code) and what the upstream billed. */
async function call(consumer: number, model: string, maxTokens: number) {
  const client = new OpenAI({ apiKey: keys[consumer]?.key, baseURL: service.urls.gateway, maxRetries: 0 });
  try {
    const completion = await client.chat.completions.create({
      model,
      max_tokens: maxTokens,
      messages: [{ role: "user", content: "shadow commons" }],
    });
    return { outcome: "ADMITTED", billed: completion.usage?.total_tokens ?? 0 };
  } catch (error) {
    if (!(error instanceof OpenAI.APIError)) throw error;
    return { outcome: String(error.code), billed: 0 };
  }
}

/** The shadow column of the newest audit record. */
async function lastShadow(): Promise<ShadowDecisions | null> {
  const row = await db
    .selectFrom("gateway_decisions")
    .select("shadow")
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  return row?.shadow ?? null;
}

/** The newest audit record's shadow outcomes by proposal (null: no proposal shadowed). */
async function lastShadowOutcomes(): Promise<Record<string, string | null> | null> {
  const shadow = await lastShadow();
  return shadow === null ? null : Object.fromEntries(Object.entries(shadow).map(([p, d]) => [p, d.o]));
}

interface Observation {
  queued: boolean;
  calls: number;
  failed: number;
  changed: number;
  newlyRefused: number;
  newlyAdmitted: number;
  consumersAffected: number;
  tokensChange: number;
  changes: { from: string; to: string; calls: number; consumers: number }[];
}
const SHADOW = adHoc<{ proposalImpact: { shadow: Observation } }, { proposalId: string }>(`
  query ($proposalId: BigInt!) {
    proposalImpact(proposalId: $proposalId) {
      shadow {
        queued calls failed changed newlyRefused newlyAdmitted consumersAffected tokensChange
        changes { from to calls consumers }
      }
    }
  }
`);
const observed = async (proposalId: string) => (await api.request(SHADOW, { proposalId })).proposalImpact.shadow;

t.test("calls are decided under each queued proposal too; the live answer is the one enforced", async (t) => {
  // The gateway reloads on the index's notification: wait for a call decided in the shadow of both.
  await until(async () => {
    await call(0, "sh-b", 8);
    const shadow = await lastShadow();
    return shadow?.[p1] && shadow[p2] ? shadow : undefined;
  }, "a call shadowed under both queued proposals");
  const both = await lastShadow();
  t.same(both, { [p1]: { o: "ADMITTED", t: both?.[p1]?.t }, [p2]: { o: "ADMITTED", t: both?.[p2]?.t } });
  t.ok((both?.[p1]?.t ?? 0) >= 9, "an admitting shadow records what it would reserve");
  const before = [await observed(p1), await observed(p2)] as const;
  t.equal(before[0].queued, true);
  t.equal(before[1].queued, true);
  t.equal(before[0].changed, 0, "the calls so far change nothing");

  // sh-a is still approved live: admitted and answered, while P1 records MODEL_SUSPENDED.
  const suspended = [await call(0, "sh-a", 8), await call(0, "sh-a", 8), await call(0, "sh-a", 8)];
  t.same(
    suspended.map((c) => c.outcome),
    ["ADMITTED", "ADMITTED", "ADMITTED"],
  );
  t.same(await lastShadowOutcomes(), { [p1]: "MODEL_SUSPENDED", [p2]: "ADMITTED" });
  // Above P2's new limit: admitted live, MAX_TOKENS_EXCEEDED under P2.
  const limited = [await call(0, "sh-b", 30), await call(0, "sh-b", 30)];
  t.same(
    limited.map((c) => c.outcome),
    ["ADMITTED", "ADMITTED"],
  );
  // Consumer 1 has no budget live; P2's grant would admit it.
  const granted = [await call(1, "sh-b", 8), await call(1, "sh-b", 8)];
  t.same(
    granted.map((c) => c.outcome),
    ["BUDGET_EXHAUSTED", "BUDGET_EXHAUSTED"],
  );
  t.same(await lastShadowOutcomes(), { [p1]: "BUDGET_EXHAUSTED", [p2]: "ADMITTED" });

  const [one, two] = [await observed(p1), await observed(p2)];
  const billed = (calls: { billed: number }[]) => calls.reduce((sum, c) => sum + c.billed, 0);
  t.equal(one.calls - before[0].calls, 7, "P1 saw every call");
  t.equal(one.newlyRefused, 3);
  t.equal(one.newlyAdmitted, 0);
  t.equal(one.changed, 3);
  t.equal(one.failed, 0);
  t.same(one.changes, [{ from: "ADMITTED", to: "MODEL_SUSPENDED", calls: 3, consumers: 1 }]);
  t.equal(one.consumersAffected, 1);
  t.equal(one.tokensChange, -billed(suspended), "P1 would not spend what the suspended calls were charged");

  t.equal(two.calls - before[1].calls, 7, "P2 saw every call");
  t.equal(two.newlyRefused, 2);
  t.equal(two.newlyAdmitted, 2);
  t.same(two.changes.map((c) => [c.from, c.to, c.calls, c.consumers]).sort(), [
    ["ADMITTED", "MAX_TOKENS_EXCEEDED", 2, 1],
    ["BUDGET_EXHAUSTED", "ADMITTED", 2, 1],
  ]);
  t.equal(two.consumersAffected, 2);
  // `commons impact` prints it (its own operation, its own lines).
  const windowEnd = Math.floor(Date.now() / 1000) + 1;
  const { proposalImpact } = await api.request(PROPOSAL_IMPACT, {
    proposalId: p1,
    since: windowEnd - 3600,
    until: windowEnd,
  });
  const printed = describeImpact(proposalImpact);
  t.match(printed, new RegExp(`Shadow mode \\(queued: live calls are decided under it too\\): ${one.calls} calls`));
  t.match(printed, /3 would change: 3 newly refused, 0 newly admitted; 1 consumers affected; tokens -\d+ \(estimate\)/);
  t.match(printed, /ADMITTED -> MODEL_SUSPENDED: 3 calls of 1 consumers/);
  // Each newly admitted call would reserve its prompt estimate and its 8 tokens at least.
  t.ok(two.tokensChange + billed(limited) >= 2 * 9, "P2 adds the newly admitted calls' reservations");

  // The audit records keep the live decision as before: admitted sh-a calls, refused consumer-1 calls.
  const audited = await db
    .selectFrom("gateway_decisions")
    .select(["model_id", "admitted", "reason_code", "shadow"])
    .orderBy("id", "desc")
    .limit(7)
    .execute();
  t.same(
    audited.reverse().map((r) => [r.model_id, r.admitted, r.reason_code, r.shadow?.[p1]?.o, r.shadow?.[p2]?.o]),
    [
      ["sh-a", true, null, "MODEL_SUSPENDED", "ADMITTED"],
      ["sh-a", true, null, "MODEL_SUSPENDED", "ADMITTED"],
      ["sh-a", true, null, "MODEL_SUSPENDED", "ADMITTED"],
      ["sh-b", true, null, "ADMITTED", "MAX_TOKENS_EXCEEDED"],
      ["sh-b", true, null, "ADMITTED", "MAX_TOKENS_EXCEEDED"],
      ["sh-b", false, "BUDGET_EXHAUSTED", "BUDGET_EXHAUSTED", "ADMITTED"],
      ["sh-b", false, "BUDGET_EXHAUSTED", "BUDGET_EXHAUSTED", "ADMITTED"],
    ],
  );
});

t.test("an executed proposal is enforced and no longer shadowed; a canceled one stops being shadowed", async (t) => {
  const provider = new JsonRpcProvider(service.urls.rpc, undefined, { cacheTimeout: -1, pollingInterval: 50 });
  t.teardown(() => provider.destroy());
  const { proposal: first } = await api.request(PROPOSAL, { id: p1 });
  if (!first) throw new Error("P1 is not in the index");
  await executeProposal(deployment, holderWallet(service, 0, provider), first);
  // Live now: sh-a is suspended. Its calls carry P2's shadow only.
  await until(
    async () => ((await call(0, "sh-a", 8)).outcome === "MODEL_SUSPENDED" ? true : undefined),
    "sh-a suspended",
  );
  await until(async () => {
    await call(0, "sh-b", 8);
    const shadow = await lastShadow();
    return shadow !== null && !(p1 in shadow) ? true : undefined;
  }, "P1 no longer shadowed");
  const afterExecution = await observed(p1);
  t.equal(afterExecution.queued, false);
  await call(0, "sh-a", 8);
  t.same(await lastShadowOutcomes(), { [p2]: "MODEL_SUSPENDED" }, "P2's shadow starts from the suspension in force");
  t.equal((await observed(p1)).calls, afterExecution.calls, "P1 sees no more calls");

  // Canceled on the timelock by its canceller, the governor (impersonated on the development chain).
  const { proposal: second } = await api.request(PROPOSAL, { id: p2 });
  if (!second) throw new Error("P2 is not in the index");
  await provider.send("hardhat_impersonateAccount", [deployment.contracts.governor]);
  await provider.send("hardhat_setBalance", [deployment.contracts.governor, `0x${(10n ** 20n).toString(16)}`]);
  const governor = new JsonRpcSigner(provider, deployment.contracts.governor);
  const operation = timelockOperationId(
    deployment.contracts.governor,
    second.targets,
    second.values.map(BigInt),
    second.calldatas,
    second.descriptionHash,
  );
  await send("canceling", () => contractOf(deployment, "timelock", governor).getFunction("cancel")(operation));
  await until(async () => {
    await call(0, "sh-b", 8);
    return (await lastShadow()) === null ? true : undefined;
  }, "P2 no longer shadowed");
  const afterCancel = await observed(p2);
  t.equal(afterCancel.queued, false);
  t.equal((await api.request(PROPOSAL, { id: p2 })).proposal?.state, "CANCELED");
  t.equal((await call(1, "sh-b", 8)).outcome, "BUDGET_EXHAUSTED", "the canceled grant was never live");
  t.equal((await observed(p2)).calls, afterCancel.calls, "P2 sees no more calls");
});
