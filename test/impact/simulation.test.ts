import { Contract, getAddress, id, JsonRpcProvider, Wallet } from "ethers";
import t from "tap";
import { contractInterface, loadArtifact } from "../../services/chain/artifacts.ts";
import { describeImpact } from "../../services/cli/commands/impact.ts";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { PROPOSAL_IMPACT, PROPOSAL_IMPACT_FIELDS, type ProposalImpactView } from "../../services/cli/operations.ts";
import { build, holderWallet, indexedProposal, passProposal, proposeDraft } from "../helpers/app.ts";
import { adHoc } from "../helpers/graphql.ts";

const service = await build(t);
const api = createGraphqlClient(service.urls.http);
const { contracts } = service.deps.deployment;
const provider = new JsonRpcProvider(service.urls.rpc, undefined, { cacheTimeout: -1, pollingInterval: 50 });
t.teardown(() => provider.destroy());
const proposer = holderWallet(service, 0, provider);

const policy = (modelId: string) => ({
  modelId,
  approved: true,
  maxTokensPerRequest: 512,
  requestsPerMinute: 60,
  allowedPurposes: ["education"],
  blockedTerms: [],
  guidelineUri: `https://example.org/${modelId}`,
  guidelineHash: id(modelId),
});

const impactOf = async (proposalId: string) => (await api.request(PROPOSAL_IMPACT, { proposalId })).proposalImpact;

/** Proposes raw calls straight to the governor (no draft, so no validation of ours); returns the id. */
async function proposeRaw(calls: { target: string; calldata: string }[]): Promise<string> {
  const governor = new Contract(contracts.governor, loadArtifact("governor").abi, proposer);
  const args = [calls.map((c) => c.target), calls.map(() => 0n), calls.map((c) => c.calldata), `raw ${Math.random()}`];
  const proposalId = (await governor.getFunction("propose").staticCall(...args)) as bigint;
  await (await governor.getFunction("propose")(...args)).wait();
  return indexedProposal(service, proposalId.toString());
}

const registry = contractInterface("registry");

t.test("a draft's impact: the changes field by field, and a simulation that executes as the diff says", async (t) => {
  const { draftProposal } = await api.request(
    adHoc<
      {
        draftProposal: { proposalId: string; impact: ProposalImpactView };
      },
      Record<string, unknown>
    >(`mutation ($input: DraftProposalInput!, $since: Timestamp, $until: Timestamp) { draftProposal(input: $input) { proposalId impact { ...CliProposalImpactFields } } }
    ${PROPOSAL_IMPACT_FIELDS}`),
    {
      input: {
        description: "Approve sim-1, grant it, and resize the pool",
        proposer: proposer.address,
        actions: [
          { setModelPolicy: policy("sim-1") },
          {
            grantAllocation: {
              grantee: proposer.address,
              modelId: "sim-1",
              tokensPerEpoch: "5000",
              start: 0,
              end: 4_000_000_000,
            },
          },
          { setCommunityPool: { allowancePerAddress: "3000", poolSizePerEpoch: "900000", epochLength: 86_400 } },
        ],
      },
    },
  );
  const { diff, simulation } = draftProposal.impact;
  t.same(
    diff.models.map((m) => [m.modelId, m.change]),
    [["sim-1", "NEW"]],
  );
  const fields = Object.fromEntries(diff.models[0]?.fields.map((f) => [f.field, [f.before, f.after]]) ?? []);
  t.same(fields.version, [null, "1"]);
  t.same(fields.maxTokensPerRequest, [null, "512"]);
  t.same(fields.allowedPurposes, [null, '["education"]']);
  t.same(
    diff.grants.map((g) => [g.change, g.grantee, g.modelId]),
    [["NEW", proposer.address, "sim-1"]],
  );
  t.same(diff.communityPool, [
    { field: "allowancePerAddress", before: "2000", after: "3000" },
    { field: "poolSizePerEpoch", before: "1000000", after: "900000" },
  ]);
  t.same(diff.problems, []);
  t.equal(simulation.executes, true);
  t.same(
    simulation.calls.map((c) => c.status),
    ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"],
  );
  t.ok(simulation.calls.every((c) => BigInt(c.gasUsed ?? 0) > 21_000n));
  t.equal(
    BigInt(simulation.gasUsed),
    simulation.calls.map((c) => BigInt(c.gasUsed ?? 0)).reduce((a, b) => a + b),
  );
  t.same(simulation.warnings, [], "the fork's state after agrees with the diff");
  t.same(
    simulation.after.models.map((m) => [m.modelId, m.version, m.approved, m.maxTokensPerRequest]),
    [["sim-1", 1, true, 512]],
    "the registry's view on the fork",
  );
  t.same(
    simulation.after.grants.map((g) => [g.grantee, g.modelId, g.tokensPerEpoch, g.revoked]),
    [[proposer.address, "sim-1", "5000", false]],
  );
  t.same(simulation.after.communityPool, {
    allowancePerAddress: "3000",
    poolSizePerEpoch: "900000",
    epochLength: 86_400,
  });
  t.equal(simulation.after.registryOwner, contracts.timelock);

  // Nothing reached the real chain: the model is still unknown there.
  const onChain = await provider.call({
    to: contracts.registry,
    data: registry.encodeFunctionData("getPolicy", ["sim-1"]),
  });
  t.equal(registry.decodeFunctionResult("getPolicy", onChain)[0].version, 0n);

  // Once proposed, proposalImpact says the same, and a second ask on the same block is the cached run.
  const proposalId = await proposeDraft(service, [{ setModelPolicy: policy("sim-2") }]);
  const first = await impactOf(proposalId);
  const again = await impactOf(proposalId);
  t.equal(first.diff.models[0]?.modelId, "sim-2");
  t.equal(first.simulation.executes, true);
  t.same(again.simulation, first.simulation);
});

t.test(
  "a proposal that passes the vote but reverts at execution is caught, with the registry's own error",
  async (t) => {
    const bad = { ...policy("zero-limit"), maxTokensPerRequest: 0 };
    const proposalId = await proposeRaw([
      {
        target: contracts.registry,
        calldata: registry.encodeFunctionData("setPolicy", [
          bad.modelId,
          { ...bad, guidelineURI: bad.guidelineUri, guidelineUri: undefined },
        ]),
      },
      {
        target: contracts.registry,
        calldata: registry.encodeFunctionData("suspendModel", ["zero-limit", "never runs"]),
      },
    ]);
    await passProposal(service, proposalId, { execute: false });

    const { diff, simulation } = await impactOf(proposalId);
    t.same(
      diff.problems.map((p) => [p.index, p.error]),
      [
        [0, "RegistryZeroLimit"],
        [1, "RegistryUnknownModel"],
      ],
      "each action is judged on the state the others leave",
    );
    t.equal(simulation.executes, false);
    t.same(
      simulation.calls.map((c) => c.status),
      ["REVERTED", "NOT_RUN"],
    );
    t.same(simulation.calls[0]?.error, {
      name: "RegistryZeroLimit",
      signature: "RegistryZeroLimit(string,string)",
      args: ["zero-limit", "maxTokensPerRequest"],
      data: simulation.calls[0]?.error?.data,
    });
    t.same(simulation.warnings, [], "the diff predicted the refusal too");

    // The real execution fails the same way.
    const governor = new Contract(contracts.governor, loadArtifact("governor").abi, proposer);
    const { proposal } = await api.request(
      adHoc<
        {
          proposal: { targets: string[]; calldatas: string[]; descriptionHash: string };
        },
        Record<string, unknown>
      >("query ($id: BigInt!) { proposal(id: $id) { targets calldatas descriptionHash } }"),
      { id: proposalId },
    );
    const error = await governor
      .getFunction("execute")
      .staticCall(proposal.targets, [0n, 0n], proposal.calldatas, proposal.descriptionHash)
      .then(
        () => null,
        (e: { data?: string }) => e.data ?? null,
      );
    t.equal(error, simulation.calls[0]?.error?.data, "the chain reverts with the revert the simulation decoded");
  },
);

t.test("a proposal that replaces the guardian shows it and its suspension period before and after", async (t) => {
  const governor = new Contract(contracts.governor, loadArtifact("governor").abi, provider);
  const registryOnChain = new Contract(contracts.registry, loadArtifact("registry").abi, provider);
  const guardianBefore = (await governor.getFunction("proposalGuardian")()) as string;
  const periodBefore = String(await registryOnChain.getFunction("guardianSuspensionPeriod")());
  const heir = getAddress(Wallet.createRandom().address);
  t.not(periodBefore, "7200", "the period changes");
  const proposalId = await proposeDraft(service, [
    { setGuardian: { guardian: heir } },
    { setGuardianSuspensionPeriod: { period: 7200 } },
  ]);
  const impact = await impactOf(proposalId);
  t.same(impact.diff.guardian, [
    { field: "guardian", before: guardianBefore, after: heir },
    { field: "suspensionPeriod", before: periodBefore, after: "7200" },
  ]);
  t.same(impact.diff.problems, []);
  t.equal(impact.simulation.executes, true);
  t.same(impact.simulation.warnings, [], "the fork's guardian and period after agree with the diff");
  t.match(
    describeImpact(impact),
    `  guardian: guardian ${guardianBefore} -> ${heir}; suspensionPeriod ${periodBefore} -> 7200`,
    "commons impact lists it",
  );
});

t.test("calldata that does more than its decoded actions say is a warning", async (t) => {
  const heir = getAddress(Wallet.createRandom().address);
  const proposalId = await proposeRaw([
    {
      target: contracts.registry,
      calldata: registry.encodeFunctionData("setPolicy", [
        "quiet-1",
        { ...policy("quiet-1"), guidelineURI: "https://example.org/quiet-1" },
      ]),
    },
    // Ownable's transferOwnership: not a governance action this service reads, so it decodes as UNKNOWN.
    { target: contracts.registry, calldata: registry.encodeFunctionData("transferOwnership", [heir]) },
  ]);
  const { diff, simulation } = await impactOf(proposalId);
  t.same(
    diff.models.map((m) => m.modelId),
    ["quiet-1"],
  );
  t.same(diff.unknownCalls, [1]);
  t.equal(simulation.executes, true);
  t.same(
    simulation.warnings.map((w) => [w.subject, w.field, w.expected, w.actual]),
    [["registry", "owner", contracts.timelock, heir]],
  );
});

t.test("bad input gets coded errors", async (t) => {
  await t.rejects(impactOf("123456789"), { code: "NOT_FOUND" }, "an unknown proposal");
  const proposalId = await proposeDraft(service, [{ setModelPolicy: policy("window-1") }]);
  const replay = (since: number, until: number) =>
    api.request(
      "query ($id: BigInt!, $since: Timestamp, $until: Timestamp) { proposalImpact(proposalId: $id) { replay(since: $since, until: $until) { calls } } }",
      { id: proposalId, since, until },
    );
  const now = Math.floor(Date.now() / 1000);
  await t.rejects(replay(now - 40 * 86_400, now), { code: "BAD_USER_INPUT", details: { reason: "WINDOW_TOO_LARGE" } });
  await t.rejects(replay(now, now - 60), { code: "BAD_USER_INPUT", details: { reason: "WINDOW_EMPTY" } });
  await t.resolves(replay(now - 31 * 86_400, now), "31 days is allowed");
  await t.rejects(
    api.request(
      "mutation ($input: DraftProposalInput!) { draftProposal(input: $input) { impact { diff { problems { index } } } } }",
      {
        input: {
          description: "a grant that ends before it starts",
          proposer: proposer.address,
          actions: [{ grantAllocation: { grantee: proposer.address, tokensPerEpoch: "1", start: 10, end: 5 } }],
        },
      },
    ),
    { code: "BAD_USER_INPUT", details: { index: 0, field: "end" } },
  );
  await t.rejects(
    api.request("query ($id: BigInt!) { proposalImpact(proposalId: $id) { replay { consumers { consumer } } } }", {
      id: proposalId,
    }),
    { code: "FORBIDDEN" },
    "who a proposal affects is for the operator",
  );
});
