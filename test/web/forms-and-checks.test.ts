import { concat, getAddress } from "ethers";
import t from "tap";
import { type Action, encodeAction } from "../../services/chain/actions.ts";
import { contractInterface } from "../../services/chain/artifacts.ts";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { DRAFT_PROPOSAL } from "../../services/cli/operations.ts";
import {
  type ActionDraft,
  actionInput,
  checkDraft,
  type DraftKind,
} from "../../services/web/src/pages/new-proposal/action-draft.ts";
import { checkCalls } from "../../services/web/src/pages/proposal/check-calls.ts";
import { build } from "../helpers/app.ts";

const grantee = getAddress(`0x${"ab".repeat(20)}`);

/** One filled form per action kind, as a person types it. */
const forms: ActionDraft[] = (
  [
    [
      "SET_MODEL_POLICY",
      {
        modelId: "form-1",
        maxTokensPerRequest: "1024",
        requestsPerMinute: "30",
        allowedPurposes: "education, medical",
        blockedTerms: "",
        guidelineUri: "https://example.org/g",
        guidelineHash: `0x${"12".repeat(32)}`,
      },
    ],
    ["SUSPEND_MODEL", { modelId: "form-1", reason: "misuse" }],
    [
      "GRANT_ALLOCATION",
      { grantee, modelId: "", tokensPerEpoch: "1000", start: "2027-01-01T00:00", end: "2027-02-01T00:00" },
    ],
    ["REVOKE_ALLOCATION", { grantId: "7" }],
    ["SET_COMMUNITY_POOL", { allowancePerAddress: "100", poolSizePerEpoch: "10000", epochLength: "3600" }],
    ["UPDATE_GOVERNOR_SETTING", { setting: "QUORUM_NUMERATOR", value: "5" }],
    ["SET_GUARDIAN", { guardian: grantee }],
    ["SET_GUARDIAN_SUSPENSION_PERIOD", { period: "7200" }],
  ] as [DraftKind, Record<string, string>][]
).map(([kind, values]) => ({ kind, values, approved: true, edited: true }));

t.test("every form kind drafts, through the service, exactly the calls the shared rules encode", async (t) => {
  const service = await build(t, { database: "pglite" });
  const { contracts } = service.deps.deployment;
  const actions = forms.map((form, i) => {
    const check = checkDraft(form, i);
    t.same(check.problem, undefined, `the ${form.kind} form is valid`);
    return check.action as Action;
  });
  const api = createGraphqlClient(service.urls.http);
  const proposer = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
  const description = "Every kind of action";
  const { draftProposal } = await api.request(DRAFT_PROPOSAL, {
    input: { description, actions: actions.map(actionInput), proposer },
  });
  const calls = actions.map((action) => encodeAction(contracts, action));
  t.equal(
    draftProposal.transaction.data,
    contractInterface("governor").encodeFunctionData("propose", [
      calls.map((c) => c.target),
      calls.map((c) => c.value),
      calls.map((c) => c.calldata),
      `${description}#proposer=${proposer}`,
    ]),
    "the service proposes what the form's actions encode to",
  );

  // The Proposal page's check: the same calls pass; any change to what would run does not.
  const proposal = {
    targets: calls.map((c) => c.target),
    values: calls.map(() => "0"),
    calldatas: calls.map((c) => c.calldata),
  };
  t.same(
    checkCalls(contracts, proposal).map((c) => c.exact),
    calls.map(() => true),
  );
  const first = calls[0] as (typeof calls)[number];
  const tampered = [
    { ...proposal, calldatas: [concat([first.calldata, "0x00"])] },
    { ...proposal, values: ["1"] },
    { ...proposal, targets: [contracts.allocator] },
    { ...proposal, calldatas: [`${first.calldata.slice(0, -2)}ff`] },
  ].map((p) => ({ targets: p.targets.slice(0, 1), values: p.values.slice(0, 1), calldatas: p.calldatas.slice(0, 1) }));
  t.same(
    tampered.map((p) => checkCalls(contracts, p)[0]?.exact),
    [false, false, false, false],
    "extra bytes, ETH sent, another target or other bytes: no check mark",
  );
});

t.test("a form's problem names its field, with the service's own rule", async (t) => {
  const policy = forms[0] as ActionDraft;
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ maxTokensPerRequest: "0" }, "maxTokensPerRequest", /^must be between 1 and 4294967295, got 0$/],
    [{ maxTokensPerRequest: "12.5" }, "maxTokensPerRequest", /^must be a whole number$/],
    [{ modelId: "has space" }, "modelId", /printable ASCII/],
    [{ allowedPurposes: "a, a" }, "allowedPurposes", /must not repeat/],
    [{ guidelineHash: "0x1234" }, "guidelineHash", /32-byte hex/],
  ];
  for (const [change, field, message] of cases) {
    const check = checkDraft({ ...policy, values: { ...policy.values, ...change } }, 0);
    t.equal(check.problem?.field, field, `${JSON.stringify(change)} is a problem of ${field}`);
    t.match(check.problem?.message, message);
  }
  const grant = forms[2] as ActionDraft;
  const backwards = checkDraft({ ...grant, values: { ...grant.values, end: "2026-12-01T00:00" } }, 0);
  t.equal(backwards.problem?.field, "end");
  t.match(backwards.problem?.message, /must be after start/);
});
