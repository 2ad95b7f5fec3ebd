import { Wallet } from "ethers";
import OpenAI from "openai";
import t, { type Test } from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { createChain, GovernanceHelper, policyAction } from "../../services/devkit/chain.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { buildGateway, openMigrated } from "../../services/devkit/gateway.ts";
import { startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { createIndexer } from "../../services/indexer/indexer.ts";

/** A development chain indexed into a fresh database as it goes, and a local upstream. */
async function chainIndexAndUpstream(t: Test) {
  const chain = await createChain();
  t.teardown(() => chain.close());
  const database = await openMigrated(t, await createTestDatabase(t));
  const indexer = createIndexer({
    database,
    provider: chain.provider,
    deployment: chain.deployment,
    pollIntervalMs: 50,
  });
  await indexer.start();
  t.teardown(() => indexer.stop());
  const upstream = await startTestUpstream();
  t.teardown(() => upstream.close());
  return { chain, database, indexer, upstream };
}

t.test("a policy change executed on the chain is enforced on the next call once the index has caught up", async (t) => {
  const { chain, database, indexer, upstream } = await chainIndexAndUpstream(t);

  const approve = new GovernanceHelper(chain, [policyAction({ modelId: "commons-dev-1" })]);
  await approve.pass();
  await indexer.waitForBlock();
  const gw = await buildGateway(t, { database, upstreamUrl: upstream.url });

  // A consumer with no grant: the deployment's community pool pays.
  const { key } = await issueApiKey(database.db, { address: Wallet.createRandom().address });
  const client = gw.client(key, { purpose: "research" });
  const call = () =>
    client.chat.completions
      .create({ model: "commons-dev-1", messages: [{ role: "user", content: "hi" }], max_tokens: 4 })
      .withResponse();

  const { response } = await call();
  t.equal(response.headers.get("x-commons-policy-version"), "1");
  t.equal(response.headers.get("x-commons-proposal-id"), String(await approve.id()));

  const suspend = new GovernanceHelper(chain, [{ kind: "SUSPEND_MODEL", modelId: "commons-dev-1", reason: "audit" }]);
  await suspend.propose();
  await suspend.waitForSnapshot();
  for (const voter of chain.signers.slice(0, 3)) await suspend.vote(voter, 1);
  await suspend.waitForDeadline();
  await suspend.queue();
  await suspend.waitForEta();
  const executed = performance.now();
  const receipt = await suspend.execute();

  await indexer.waitForBlock(receipt?.blockNumber);
  const indexed = performance.now();
  const refusal = await until(async () => {
    try {
      await call();
      return undefined;
    } catch (error) {
      if (error instanceof OpenAI.APIError) return error;
      throw error;
    }
  }, "the suspension to be enforced");
  const enforced = performance.now();
  t.comment(
    `execution → indexed: ${(indexed - executed).toFixed(1)} ms; indexed → enforced: ${(enforced - indexed).toFixed(1)} ms; execution → enforced: ${(enforced - executed).toFixed(1)} ms`,
  );
  t.equal(refusal.status, 403);
  t.equal(refusal.code, "MODEL_SUSPENDED");
  t.equal(refusal.headers?.get("x-commons-policy-version"), "2");
  t.equal(refusal.headers?.get("x-commons-proposal-id"), String(await suspend.id()));
});

t.test("the guardian's brake is enforced at once, and no longer once it lapses", async (t) => {
  const { chain, database, indexer, upstream } = await chainIndexAndUpstream(t);
  await new GovernanceHelper(chain, [policyAction({ modelId: "braked" })]).pass();
  // The development guardian is the first holder; the gateway's clock is the test's to move (a day ahead
  // of the index's heartbeat, hence ALLOW_STALE_POLICY: staleness is not what is tested here).
  const guardian = chain.signers[0]!;
  const receipt = await (
    await chain.contract("registry", guardian).guardianSuspendModel("braked", "jailbreak in the wild")
  ).wait();
  await indexer.waitForBlock(receipt?.blockNumber);
  const until = Number((await chain.contract("registry").getPolicy("braked")).suspendedUntil);
  let nowMs = (until - 1) * 1000;
  const gw = await buildGateway(t, {
    database,
    upstreamUrl: upstream.url,
    now: () => nowMs,
    env: { ALLOW_STALE_POLICY: "true" },
  });
  const { key } = await issueApiKey(database.db, { address: Wallet.createRandom().address });
  const call = () =>
    gw
      .client(key, { purpose: "research" })
      .chat.completions.create({ model: "braked", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });

  const refusal = await call().catch((error: unknown) => error);
  t.ok(refusal instanceof OpenAI.APIError, "refused while the brake holds");
  t.equal((refusal as InstanceType<typeof OpenAI.APIError>).code, "MODEL_SUSPENDED");
  t.match((refusal as Error).message, /by the guardian, until/);

  nowMs = until * 1000;
  const answer = await call();
  t.equal(answer.choices.length, 1, "a lapsed brake is not enforced");
});
