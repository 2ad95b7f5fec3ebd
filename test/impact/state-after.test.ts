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
const before: GovernanceState = {
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
      checkpoint: null,
    },
    { defaultMaxTokens: 256, maxStalenessMs: 60_000, allowStale: true },
  ),
  governor: start.governor,
  nextGrantId: start.nextGrantId,
};

const simulator = createForkSimulator({
  rpcUrl: chain.rpcUrl,
  deployment,
  blockNumber: () => provider.getBlockNumber(),
  timeoutMs: 60_000,
  cacheSize: 1,
});

const modelId = fc.constantFrom("m-a", "m-b", "m-c");
const grantees = [Wallet.createRandom().address, Wallet.createRandom().address, ZeroAddress];
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant("SET_MODEL_POLICY" as const),
    modelId,
    approved: fc.boolean(),
    maxTokensPerRequest: fc.nat({ max: 3 }),
    requestsPerMinute: fc.nat({ max: 3 }),
    allowedPurposes: fc.uniqueArray(fc.constantFrom("education", "research"), { maxLength: 2 }),
    blockedTerms: fc.uniqueArray(fc.constantFrom("secret", "weapon"), { maxLength: 2 }),
    guidelineUri: fc.constantFrom("", "https://example.org/g"),
    guidelineHash: fc.constantFrom(ZeroHash, id("g")),
  }),
  fc.record({ kind: fc.constant("SUSPEND_MODEL" as const), modelId, reason: fc.constant("review") }),
  fc.record({
    kind: fc.constant("GRANT_ALLOCATION" as const),
    grantee: fc.constantFrom(...grantees),
    modelId: fc.constantFrom("", "m-a"),
    tokensPerEpoch: fc.bigInt({ min: 0n, max: 3n }),
    start: fc.nat({ max: 3 }),
    end: fc.nat({ max: 3 }),
  }),
  fc.record({ kind: fc.constant("REVOKE_ALLOCATION" as const), grantId: fc.bigInt({ min: 0n, max: 4n }) }),
  fc.record({
    kind: fc.constant("SET_COMMUNITY_POOL" as const),
    allowancePerAddress: fc.bigInt({ min: 0n, max: 3n }),
    poolSizePerEpoch: fc.bigInt({ min: 0n, max: 3n }),
    epochLength: fc.nat({ max: 2 }),
  }),
  fc.record({
    kind: fc.constant("UPDATE_GOVERNOR_SETTING" as const),
    setting: fc.constantFrom("VOTING_DELAY" as const, "PROPOSAL_THRESHOLD" as const, "QUORUM_NUMERATOR" as const),
    value: fc.bigInt({ min: 0n, max: 100n }),
  }),
);

t.test("the policies after a proposal are what the contracts make of its calls", async (t) => {
  let run = 0;
  const seen = { executed: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 8 }), async (actions) => {
      const after = stateAfter(before, actions, { proposalId: "1", txHash: "", blockNumber: 0, blockTime: 0 });
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
    { numRuns: 40, seed: 14 },
  );
  t.ok(seen.executed >= 5 && seen.refused >= 5, `both kinds of batches were tried: ${JSON.stringify(seen)}`);
});
