/**
 * `npm run gas`: gas used by each governance step and by each registry and allocator write, measured on
 * the in-process EVM. Writes are measured twice: as the execute of a one-action proposal (what governance
 * pays) and called directly by the impersonated timelock (the write alone).
 */
import type { TransactionReceipt } from "ethers";
import type { Action } from "../services/chain/actions.ts";
import { encodeAction } from "../services/chain/actions.ts";
import { createChain, GovernanceHelper, impersonate, policyAction, type Signer, Vote } from "../test/helpers/chain.ts";
import { type BenchRow, runBench } from "./harness.ts";

export default async function gasBench() {
  return runBench("gas", async (log) => {
    const chain = await createChain({ holders: 4 });
    try {
      const [alice, bob, carol, dan, relayer, grantee] = chain.signers as Signer[];
      const rows: BenchRow[] = [];
      const record = (metric: string, receipt: TransactionReceipt | null) => {
        if (!receipt) throw new Error(`no receipt for ${metric}`);
        rows.push({ metric, value: Number(receipt.gasUsed), unit: "gas" });
      };
      const now = await chain.now();
      const grant = (modelId: string): Action => ({
        kind: "GRANT_ALLOCATION",
        grantee: grantee!.address,
        modelId,
        tokensPerEpoch: 100_000n,
        start: now,
        end: now + 30 * 86_400,
      });
      const pool: Action = {
        kind: "SET_COMMUNITY_POOL",
        allowancePerAddress: 4_000n,
        poolSizePerEpoch: 2_000_000n,
        epochLength: 86_400,
      };

      log("governance steps on a one-action proposal (setPolicy)");
      const first = new GovernanceHelper(chain, [policyAction({ modelId: "bench-model" })], "Bench: first policy");
      record("governor.propose (1 action)", await first.propose(alice));
      await first.waitForSnapshot();
      record("governor.castVote (first vote, reaches quorum)", await first.vote(alice!, Vote.For));
      record("governor.castVote", await first.vote(bob!, Vote.For));
      record("governor.castVoteWithReason", await first.vote(carol!, Vote.For, "sound guidelines"));
      const ballot = await first.signBallot(dan!, Vote.For);
      const bySig = await first
        .governor(relayer)
        .castVoteBySig(ballot.proposalId, ballot.support, ballot.voter, ballot.signature);
      record("governor.castVoteBySig (relayed)", await bySig.wait());
      await first.waitForDeadline();
      record("governor.queue (1 action)", await first.queue());
      await first.waitForEta();
      record("governor.execute: setPolicy (new model)", await first.execute());

      log("execute of one-action proposals, per kind");
      const throughGovernance: [string, Action][] = [
        ["setPolicy (update)", policyAction({ modelId: "bench-model", maxTokensPerRequest: 1_024 })],
        ["suspendModel", { kind: "SUSPEND_MODEL", modelId: "bench-model", reason: "bench" }],
        ["grant", grant("bench-model")],
        ["revoke", { kind: "REVOKE_ALLOCATION", grantId: 1n }],
        ["setCommunityPool", pool],
        ["setPoolEligibility", { kind: "SET_POOL_ELIGIBILITY", minVotes: 100n * 10n ** 18n }],
        ["setVotingPeriod", { kind: "UPDATE_GOVERNOR_SETTING", setting: "VOTING_PERIOD", value: 600n }],
      ];
      for (const [name, action] of throughGovernance) {
        const helper = new GovernanceHelper(chain, [action], `Bench: ${name}`);
        record(`governor.execute: ${name}`, await helper.pass([alice!, bob!, carol!, dan!]));
      }
      const three = new GovernanceHelper(chain, [policyAction({ modelId: "bench-3" }), grant(""), pool], "Bench: 3");
      record("governor.propose (3 actions)", await three.propose(alice));

      log("the same writes called directly by the timelock");
      const timelock = await impersonate(chain, chain.deployment.contracts.timelock);
      const direct = async (name: string, action: Action) => {
        const call = encodeAction(chain.deployment.contracts, action);
        record(name, await (await timelock.sendTransaction({ to: call.target, data: call.calldata })).wait());
      };
      await direct("registry.setPolicy (new model)", policyAction({ modelId: "direct-model" }));
      await direct(
        "registry.setPolicy (update)",
        policyAction({ modelId: "direct-model", maxTokensPerRequest: 1_024 }),
      );
      await direct("registry.suspendModel", { kind: "SUSPEND_MODEL", modelId: "direct-model", reason: "bench" });
      const grantId: bigint = await chain.contract("allocator").nextGrantId();
      await direct("allocator.grant", grant("direct-model"));
      await direct("allocator.revoke", { kind: "REVOKE_ALLOCATION", grantId });
      await direct("allocator.setCommunityPool", { ...pool, allowancePerAddress: 5_000n });
      await direct("allocator.setPoolEligibility", { kind: "SET_POOL_ELIGIBILITY", minVotes: 200n * 10n ** 18n });

      return {
        rows,
        notes: [
          "policy: 2 allowed purposes, 1 blocked term, a 31-byte guideline URI; gas includes the 21,000 base cost",
          "governor.execute = governor + timelock checks + the write; the direct rows are the write alone",
          "the first vote writes the tally from zero and, reaching quorum, the late-quorum deadline; later votes update",
        ],
      };
    } finally {
      await chain.close();
    }
  });
}
