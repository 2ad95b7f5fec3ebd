/**
 * `npm run gas`: gas used by each governance step and by each registry and allocator write, measured on
 * the in-process EVM. Writes are measured twice: as the execute of a one-action proposal (what governance
 * pays) and called directly by the impersonated timelock (the write alone).
 */
import { readFileSync } from "node:fs";
import { Contract, ContractFactory, type ContractRunner, type InterfaceAbi, type TransactionReceipt } from "ethers";
import type { Action } from "../services/chain/actions.ts";
import { encodeAction } from "../services/chain/actions.ts";
import { loadArtifact } from "../services/chain/artifacts.ts";
import { TIMELOCK_ROLES } from "../services/chain/ignition/parameters.ts";
import {
  type Chain,
  createChain,
  GovernanceHelper,
  impersonate,
  policyAction,
  type Signer,
  Vote,
} from "../services/devkit/chain.ts";
import { type BenchRow, runBench } from "./harness.ts";

/** Targets of issue 17, gas including the 21,000 base; votes are held to 5% above the baseline. */
const TARGETS: Record<string, number> = {
  "governor.execute: setPolicy (new model)": 180_000,
  "governor.execute: grant": 150_000,
};
const VOTE_TOLERANCE = 1.05;

/**
 * The plain OpenZeppelin composition of the same governor modules (contracts/test/BaselineGovernor.sol),
 * on the same token, with its own timelock: the reference our votes are measured against.
 */
async function deployBaseline(chain: Chain, deployer: Signer): Promise<Contract> {
  const file = new URL("../artifacts/contracts/test/BaselineGovernor.sol/BaselineGovernor.json", import.meta.url);
  const artifact = JSON.parse(readFileSync(file, "utf8")) as { abi: InterfaceAbi; bytecode: string };
  const { abi, bytecode } = loadArtifact("timelock");
  const timelock = await new ContractFactory(abi, bytecode, deployer).deploy(60, [], [], deployer.address);
  await timelock.waitForDeployment();
  const g = chain.config.governor;
  const governor = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy(
    chain.deployment.contracts.token,
    await timelock.getAddress(),
    { ...g },
  );
  await governor.waitForDeployment();
  const roles = new Contract(await timelock.getAddress(), abi, deployer);
  await (await roles.getFunction("grantRole")(TIMELOCK_ROLES.proposer, await governor.getAddress())).wait();
  return new Contract(await governor.getAddress(), artifact.abi, deployer);
}

/** The test helper, driving the baseline governor instead of ours. */
class BaselineHelper extends GovernanceHelper {
  constructor(
    chain: Chain,
    actions: Action[],
    description: string,
    private readonly baseline: Contract,
  ) {
    super(chain, actions, description);
  }

  override governor(runner?: ContractRunner): Contract {
    return runner ? (this.baseline.connect(runner) as Contract) : this.baseline;
  }
}

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

      log("governance steps on a one-action proposal (setPolicy), ours and the OpenZeppelin baseline's");
      const first = new GovernanceHelper(chain, [policyAction({ modelId: "bench-model" })], "Bench: first policy");
      const baseline = new BaselineHelper(
        chain,
        [policyAction({ modelId: "bench-model" })],
        "Bench: first policy",
        await deployBaseline(chain, alice!),
      );
      const voteRows: string[] = [];
      for (const [prefix, helper] of [
        ["governor", first],
        ["baseline (plain OpenZeppelin)", baseline],
      ] as const) {
        const measure = (metric: string, receipt: TransactionReceipt | null) => {
          record(`${prefix}.${metric}`, receipt);
          if (prefix === "governor") voteRows.push(metric);
        };
        measure("propose (1 action)", await helper.propose(alice));
        await helper.waitForSnapshot();
        measure("castVote (first vote, reaches quorum)", await helper.vote(alice!, Vote.For));
        measure("castVote", await helper.vote(bob!, Vote.For));
        measure("castVoteWithReason", await helper.vote(carol!, Vote.For, "sound guidelines"));
        const ballot = await helper.signBallot(dan!, Vote.For);
        const bySig = await helper
          .governor(relayer)
          .castVoteBySig(ballot.proposalId, ballot.support, ballot.voter, ballot.signature);
        measure("castVoteBySig (relayed)", await bySig.wait());
      }
      // Each of our votes beside the baseline's: within 5%.
      for (const metric of voteRows) {
        const ours = rows.find((r) => r.metric === `governor.${metric}`);
        const base = rows.find((r) => r.metric === `baseline (plain OpenZeppelin).${metric}`);
        if (ours && base) {
          ours.target = `≤ ${Math.floor(base.value * VOTE_TOLERANCE)} (baseline +5%)`;
          ours.met = ours.value <= base.value * VOTE_TOLERANCE;
        }
      }
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

      for (const row of rows) {
        const target = TARGETS[row.metric];
        if (target !== undefined) {
          row.target = `≤ ${target}`;
          row.met = row.value <= target;
        }
      }
      return {
        rows,
        notes: [
          "baseline: contracts/test/BaselineGovernor.sol, the same OpenZeppelin modules without our bounds, same token",
          "before issue 17 (rules stored in the registry, unpacked grants): setPolicy (new model) executed in 363k gas",
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
