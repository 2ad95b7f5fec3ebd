import { JsonRpcProvider } from "ethers";
import t from "tap";
import { contractInterface } from "../../services/chain/artifacts.ts";
import { send } from "../../services/cli/chain-actions.ts";
import { until } from "../../services/devkit/until.ts";
import { apiKeyFor, build, enact, holderWallet } from "../helpers/app.ts";
import { policyAction, subscribe } from "./notify.ts";
import { startReceiver } from "./receiver.ts";

t.test(
  "a consumer hears of its budget at 80% and 100%, of rule changes to a model it used, and of the guardian",
  async (t) => {
    const receiver = await startReceiver();
    t.teardown(receiver.close);
    const service = await build(t, { env: { NOTIFY_ALLOW_LOOPBACK: "true", NOTIFY_BUDGET_SCAN_MS: "100" } });
    await enact(service, [
      { setModelPolicy: { ...policyAction("budget-model").setModelPolicy, maxTokensPerRequest: 512 } },
    ]);
    const { key, address } = await apiKeyFor(service, 0);
    const other = await apiKeyFor(service, 1);
    const sub = await subscribe(service, key, {
      channel: "WEBHOOK",
      target: receiver.url,
      eventTypes: ["budget.threshold", "policy.queued", "policy.executed", "guardian.action"],
    });
    receiver.secrets = [sub.secret];
    // Someone else's receiver: it hears of the rule change only if its owner used the model (it did not).
    const bystander = await startReceiver();
    t.teardown(bystander.close);
    const bystanderSub = await subscribe(service, other.key, {
      channel: "WEBHOOK",
      target: bystander.url,
      eventTypes: ["policy.executed"],
    });
    bystander.secrets = [bystanderSub.secret];

    // The development chain's community pool gives each address 2,000 tokens an epoch: spend them.
    let refused: string | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      const response = await fetch(`${service.urls.gateway}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "budget-model", max_tokens: 300, messages: [{ role: "user", content: "hi" }] }),
      });
      const body = (await response.json()) as { error?: { code: string } };
      if (body.error) refused = body.error.code;
    }
    t.equal(refused, "BUDGET_EXHAUSTED");
    const budget = () => receiver.events.filter((e) => e.type === "budget.threshold");
    await until(() => (budget().length >= 2 ? true : undefined), "the budget's 80% and 100% events");
    t.match(budget(), [
      { data: { percent: 80, source: "pool", consumer: address } },
      { data: { percent: 100, source: "pool", consumer: address } },
    ]);

    const proposalId = await enact(service, [policyAction("budget-model")]);
    const policy = () => receiver.events.filter((e) => e.type.startsWith("policy."));
    await until(() => (policy().length >= 2 ? true : undefined), "the rule change, queued then executed");
    t.match(policy(), [
      { type: "policy.queued", data: { proposalId, models: ["budget-model"] } },
      { type: "policy.executed", data: { proposalId, models: ["budget-model"] } },
    ]);

    const provider = new JsonRpcProvider(service.urls.rpc, undefined, { cacheTimeout: -1, pollingInterval: 50 });
    t.teardown(() => provider.destroy());
    // The development chain's guardian is holder #0.
    const registry = contractInterface("registry");
    const guardian = holderWallet(service, 0, provider);
    await send("suspending", () =>
      guardian.sendTransaction({
        to: service.deps.deployment.contracts.registry,
        data: registry.encodeFunctionData("guardianSuspendModel", ["budget-model", "jailbreak in the wild"]),
      }),
    );
    const brake = await until(() => receiver.events.find((e) => e.type === "guardian.action"), "the guardian's brake");
    t.match(brake.data, { action: "MODEL_SUSPENDED", modelId: "budget-model", guardian: guardian.address });
    // The rule change was matched against every subscription when it reached the receiver above.
    const queuedForBystander = await service.deps.database.db
      .selectFrom("notification_deliveries")
      .selectAll()
      .where("subscription_id", "=", bystanderSub.id)
      .execute();
    t.same(queuedForBystander, [], "a rule change is not announced to those who never used the model");
    t.equal(receiver.rejected, 0);
  },
);
