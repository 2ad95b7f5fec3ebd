import assert from "node:assert/strict";
import { type EventLog, ZeroHash } from "ethers";
import fc from "fast-check";
import t from "tap";
import { type Action, encodeAction } from "../../services/chain/actions.ts";
import {
  createChain,
  eventsOf,
  impersonate,
  policyAction,
  policyRules,
  revertOf,
  rulesHash,
} from "../../services/devkit/chain.ts";

// A random sequence of setPolicy / suspendModel calls against a model of what the registry should hold.
// Every run starts from the same deployed chain (evm_snapshot / evm_revert), so runs do not see each other.
const chain = await createChain({ holders: 1 });
t.teardown(() => chain.close());
const timelock = await impersonate(chain, chain.deployment.contracts.timelock);
const registry = chain.contract("registry", timelock);

const models = ["alpha", "beta", "gamma"] as const;
type Step = { op: "set"; model: number; action: Action } | { op: "suspend"; model: number; reason: string };
interface Expected {
  version: bigint;
  suspended: boolean;
  rulesHash: string;
}

const words = fc.uniqueArray(fc.constantFrom("research", "education", "medical", "legal", "code"), { maxLength: 3 });
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${Buffer.from(b).toString("hex")}`);
const model = fc.nat({ max: models.length - 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  fc
    .record({
      model,
      approved: fc.boolean(),
      maxTokensPerRequest: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      requestsPerMinute: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      allowedPurposes: words,
      blockedTerms: words,
      guidelineUri: fc.webUrl(),
      guidelineHash: hash.filter((h) => h !== ZeroHash),
    })
    .map(({ model, ...rules }) => ({
      op: "set" as const,
      model,
      action: policyAction({ modelId: models[model], ...rules }),
    })),
  fc.record({ op: fc.constant("suspend" as const), model, reason: fc.string({ minLength: 1, maxLength: 20 }) }),
);

async function apply(s: Step, expected: Map<string, Expected>, listed: string[]): Promise<void> {
  const modelId = models[s.model]!;
  const key = await registry.modelKey(modelId);
  const before = expected.get(modelId);
  const previous = before?.version ?? 0n;
  if (s.op === "set") {
    const call = encodeAction(chain.deployment.contracts, s.action);
    const receipt = await (await timelock.sendTransaction({ to: call.target, data: call.calldata })).wait();
    const rules = policyRules(s.action);
    assert.deepEqual(eventsOf(chain, receipt, "registry"), [
      { name: "PolicySet", args: [key, modelId, previous, previous + 1n, rules] },
    ]);
    expected.set(modelId, { version: previous + 1n, suspended: false, rulesHash: rulesHash(s.action) });
    if (!before) listed.push(modelId);
  } else if (!before) {
    assert.deepEqual(await revertOf(registry.suspendModel(modelId, s.reason)), {
      name: "RegistryUnknownModel",
      args: [modelId],
    });
  } else if (before.suspended) {
    assert.deepEqual(await revertOf(registry.suspendModel(modelId, s.reason)), {
      name: "RegistryAlreadySuspended",
      args: [modelId, previous],
    });
  } else {
    const receipt = await (await registry.suspendModel(modelId, s.reason)).wait();
    assert.deepEqual(eventsOf(chain, receipt, "registry"), [
      { name: "ModelSuspended", args: [key, modelId, previous, previous + 1n, s.reason] },
    ]);
    expected.set(modelId, { ...before, version: previous + 1n, suspended: true });
  }
}

t.test("each change bumps the version by one; suspension keeps the rules; setPolicy lifts it", async (t) => {
  await t.resolves(
    fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
        const snapshot: string = await chain.provider.send("evm_snapshot", []);
        const snapshotBlock = await chain.provider.getBlockNumber();
        try {
          const expected = new Map<string, Expected>();
          const listed: string[] = [];
          for (const s of steps) {
            await apply(s, expected, listed);
            for (const modelId of models) {
              const want = expected.get(modelId);
              assert.deepEqual(
                (await registry.getPolicy(modelId)).toArray(true),
                want ? [want.version, want.suspended, 0n, want.rulesHash] : [0n, false, 0n, ZeroHash],
                modelId,
              );
            }
            // The registry keeps no list: a model's first PolicySet (previous version 0) names it, once.
            const firsts = (await registry.queryFilter(registry.filters.PolicySet!(), snapshotBlock + 1))
              .map((e) => (e as EventLog).args)
              .filter((args) => args.previousVersion === 0n)
              .map((args) => args.modelId);
            assert.deepEqual(firsts, listed, "a new model is announced once, in order of first policy");
          }
        } finally {
          await chain.provider.send("evm_revert", [snapshot]);
        }
      }),
      { numRuns: 20 },
    ),
  );
});
