import assert from "node:assert/strict";
import { id, JsonRpcProvider, Wallet, ZeroAddress, ZeroHash } from "ethers";
import fc from "fast-check";
import t from "tap";
import { type Action, encodeAction } from "../../services/chain/actions.ts";
import { createForkSimulator, readChainState } from "../../services/chain/fork-simulation.ts";
import { type GovernanceState, stateAfter } from "../../services/policy/after-actions.ts";
import { diffStates } from "../../services/policy/policy-diff.ts";
import { buildSnapshot } from "../../services/policy/snapshot.ts";
import { stateDifferences } from "../../services/policy/state-differences.ts";
import { startDevChain } from "../../services/runtime/dev-chain.ts";

/**
 * The pure reading of a proposal (stateAfter) against the contracts themselves: random batches of
 * actions, valid or not, run as the timelock on a fork of a development chain; whatever the contracts
 * do, the reading must say the same (same refusal first, or the same state after).
 */
const chain = await startDevChain({ host: "127.0.0.1", port: 0 });
t.teardown(() => chain.close());
const { deployment } = chain;
const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { cacheTimeout: -1 });
t.teardown(() => provider.destroy());
const rpc = { request: (a: { method: string; params?: unknown[] }) => provider.send(a.method, a.params ?? []) };

const start = await readChainState(rpc, deployment, []);
const deployed: GovernanceState = {
  policies: buildSnapshot(
    {
      policies: [],
      grants: [],
      pool: {
        allowance_per_address: start.pool.allowancePerAddress.toString(),
        pool_size_per_epoch: start.pool.poolSizePerEpoch.toString(),
        epoch_length: start.pool.epochLength,
        proposal_id: null,
        block_number: 0,
        block_time: 0,
        tx_hash: ZeroHash,
        log_index: 0,
      },
      poolEligibility: null,
      checkpoint: null,
    },
    { defaultMaxTokens: 256, maxStalenessMs: 60_000, allowStale: true },
  ),
  governor: start.governor,
  guardian: start.guardian,
  nextGrantId: start.nextGrantId,
};
const enactedBy = { proposalId: "1", txHash: "", blockNumber: 0, blockTime: 0 };
const grantees = [Wallet.createRandom().address, Wallet.createRandom().address];

// The chain the batches fork from already holds models (one suspended) and grants (one revoked), run
// on the development chain as the timelock itself.
const policyOf = (modelId: string): Action => ({
  kind: "SET_MODEL_POLICY",
  modelId,
  approved: true,
  maxTokensPerRequest: 2,
  requestsPerMinute: 2,
  allowedPurposes: ["education"],
  blockedTerms: ["secret"],
  guidelineUri: "https://example.org/g",
  guidelineHash: id("g"),
});
const setup: Action[] = [
  policyOf("m-a"),
  policyOf("m-b"),
  { kind: "SUSPEND_MODEL", modelId: "m-b", reason: "review" },
  { kind: "GRANT_ALLOCATION", grantee: grantees[0] as string, modelId: "", tokensPerEpoch: 5n, start: 0, end: 9 },
  { kind: "GRANT_ALLOCATION", grantee: grantees[1] as string, modelId: "m-a", tokensPerEpoch: 7n, start: 1, end: 5 },
  { kind: "REVOKE_ALLOCATION", grantId: 1n },
];
const { timelock } = deployment.contracts;
await provider.send("hardhat_impersonateAccount", [timelock]);
await provider.send("hardhat_setBalance", [timelock, "0x56BC75E2D63100000"]);
for (const a of setup) {
  const call = encodeAction(deployment.contracts, a);
  const hash = await provider.send("eth_sendTransaction", [{ from: timelock, to: call.target, data: call.calldata }]);
  await provider.waitForTransaction(hash);
}
const before = stateAfter(deployed, setup, enactedBy).state;

const simulator = createForkSimulator({
  rpcUrl: chain.rpcUrl,
  deployment,
  blockNumber: () => provider.getBlockNumber(),
  timeoutMs: 60_000,
  cacheSize: 1,
});

const modelId = fc.constantFrom("m-a", "m-b", "m-c");
/** Valid nine times in ten: batches of several actions then often execute, and still often do not. */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: invalid });
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("SET_MODEL_POLICY" as const),
      modelId,
      approved: fc.boolean(),
      maxTokensPerRequest: mostly(fc.integer({ min: 1, max: 3 }), fc.constant(0)),
      requestsPerMinute: mostly(fc.integer({ min: 1, max: 3 }), fc.constant(0)),
      allowedPurposes: fc.uniqueArray(fc.constantFrom("education", "research"), { maxLength: 2 }),
      blockedTerms: fc.uniqueArray(fc.constantFrom("secret", "weapon"), { maxLength: 2 }),
      guidelineUri: mostly(fc.constant("https://example.org/g"), fc.constant("")),
      guidelineHash: mostly(fc.constant(id("g")), fc.constant(ZeroHash)),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("SUSPEND_MODEL" as const), modelId, reason: fc.constant("review") }),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        grantee: mostly(fc.constantFrom(...grantees), fc.constant(ZeroAddress)),
        modelId: fc.constantFrom("", "m-a"),
        tokensPerEpoch: mostly(fc.bigInt({ min: 1n, max: 3n }), fc.constant(0n)),
        start: fc.nat({ max: 3 }),
        length: mostly(fc.integer({ min: 1, max: 3 }), fc.constant(0)),
      })
      .map(({ length, ...g }): Action => ({ kind: "GRANT_ALLOCATION", ...g, end: g.start + length })),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("REVOKE_ALLOCATION" as const), grantId: fc.bigInt({ min: 0n, max: 4n }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("SET_COMMUNITY_POOL" as const),
      allowancePerAddress: fc.bigInt({ min: 0n, max: 3n }),
      poolSizePerEpoch: mostly(fc.constant(3n), fc.bigInt({ min: 0n, max: 2n })),
      epochLength: mostly(fc.integer({ min: 1, max: 2 }), fc.constant(0)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("UPDATE_GOVERNOR_SETTING" as const),
      setting: fc.constantFrom("VOTING_DELAY" as const, "PROPOSAL_THRESHOLD" as const, "QUORUM_NUMERATOR" as const),
      value: fc.bigInt({ min: 0n, max: 100n }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.record({ kind: fc.constant("SET_GUARDIAN" as const), guardian: fc.constantFrom(...grantees, ZeroAddress) }),
      // Around the registry's bounds (one hour to 30 days), both sides.
      fc.record({
        kind: fc.constant("SET_GUARDIAN_SUSPENSION_PERIOD" as const),
        period: fc.constantFrom(0, 3_599, 3_600, 86_400, 2_592_000, 2_592_001),
      }),
    ),
  },
);

t.test("the reading of the set-up matches the chain it ran on", async (t) => {
  t.same(stateDifferences(before, await readChainState(rpc, deployment, []), timelock), []);
});

t.test("the policies after a proposal are what the contracts make of its calls", async (t) => {
  let run = 0;
  const seen = { executed: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 6 }), async (actions) => {
      const after = stateAfter(before, actions, enactedBy);
      const simulation = await simulator.simulate({
        key: `run-${run++}`,
        calls: actions.map((a) => encodeAction(deployment.contracts, a)),
        modelIds: [],
      });
      const first = after.problems[0];
      if (first === undefined) {
        seen.executed++;
        assert.equal(simulation.executes, true, "every call succeeds when the reading finds no problem");
        assert.deepEqual(stateDifferences(after.state, simulation.after, deployment.contracts.timelock), []);
        assert.equal(diffStates(after.state, after.state).models.length, 0);
      } else {
        seen.refused++;
        const reverted = simulation.calls.find((c) => c.status === "REVERTED");
        assert.deepEqual(
          [reverted?.index, reverted?.error?.name],
          [first.index, first.error],
          "the first refusal read is the contracts' refusal",
        );
      }
    }),
    { numRuns: 60, seed: 14 },
  );
  t.ok(seen.executed >= 10 && seen.refused >= 10, `both kinds of batches were tried: ${JSON.stringify(seen)}`);
});
