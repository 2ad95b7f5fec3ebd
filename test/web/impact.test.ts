import { id, Wallet, ZeroAddress } from "ethers";
import OpenAI from "openai";
import type { Locator, Page } from "playwright-core";
import t, { type Test } from "tap";
import type { ActionInput } from "../../services/cli/gql/graphql.ts";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { PROPOSAL_IMPACT, type ProposalImpactView } from "../../services/cli/operations.ts";
import { signInForApiKey } from "../../services/cli/sign-in.ts";
import { browserMissing } from "../../services/devkit/chromium.ts";
import { startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { createUpstream } from "../../services/gateway/upstream.ts";
import { build, enact, passProposal, proposeDraft } from "../helpers/app.ts";
import { adHoc } from "../helpers/graphql.ts";
import { accessibilityProblems, launchBrowser, screenshot } from "./browser.ts";

/**
 * The impact of a proposal on its page and on the New proposal page, in a real chromium against the whole
 * service: audited calls through the openai SDK, a proposal that suspends the model they used, lowers
 * another's limit and adds blocked terms to a third; every figure the page shows is the GraphQL answer's.
 */
const missing = browserMissing();

const modelPolicy = (modelId: string, max: number, blockedTerms: string[] = []): ActionInput => ({
  setModelPolicy: {
    modelId,
    approved: true,
    maxTokensPerRequest: max,
    requestsPerMinute: 1000,
    allowedPurposes: [],
    blockedTerms,
    guidelineUri: `https://example.org/${modelId}`,
    guidelineHash: id(modelId),
  },
});

/** The page's words for an outcome, written out here rather than imported: the test checks the page. */
const outcome = (code: string) =>
  code === "ADMITTED" ? "admitted" : `refused (${code.toLowerCase().replace(/_/g, " ")})`;
const number = (n: number | string) => new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 }).format(Number(n));
const signed = (n: number) => `${n > 0 ? "+" : n < 0 ? "−" : "±"}${number(Math.abs(n))}`;
const plural = (n: number, one: string) => `${number(n)} ${n === 1 ? one : `${one}s`}`;

/** A diff's value as the page words it: lists come as JSON. */
const value = (v: string | null) =>
  v === null ? "not set" : v.startsWith("[") ? (JSON.parse(v) as string[]).join(", ") || "none" : v;

type Preview = Pick<ProposalImpactView, "diff" | "simulation" | "replay">;
const PREVIEW = adHoc<
  { draftProposal: { impact: Preview } },
  { input: { description: string; actions: ActionInput[]; proposer: string } }
>(`
  mutation ($input: DraftProposalInput!) {
    draftProposal(input: $input) {
      impact {
        diff { models { modelId change fields { field before after } } grants { grantId } communityPool { field } governor { field } unknownCalls problems { index error message } }
        simulation { blockNumber executes gasUsed calls { index target status gasUsed error { name signature args data } } warnings { subject field expected actual message } }
        replay {
          since until calls evaluated newlyRefused newlyAdmitted consumersAffected estimatedCharges
          notEvaluable { reason calls explanation }
          changes { from to calls consumers }
          budgets { budget tokensBefore tokensAfter change }
        }
      }
    }
  }
`);

const GUARDIAN_DIFF = adHoc<
  { draftProposal: { impact: { diff: Pick<ProposalImpactView["diff"], "guardian"> } } },
  { input: { description: string; actions: ActionInput[]; proposer: string } }
>(`
  mutation ($input: DraftProposalInput!) {
    draftProposal(input: $input) { impact { diff { guardian { field before after } } } }
  }
`);

/** The text of each cell of each row matching `rows`. */
const cells = (rows: Locator) =>
  rows.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent?.trim())));
const text = async (l: Locator) => ((await l.textContent()) ?? "").replace(/\s+/g, " ").trim();

t.test(
  "the proposal page and the New proposal page show what a proposal will do, as GraphQL answers it",
  { skip: missing ? `the browser tests need chromium: ${missing}` : false },
  async (t) => {
    const upstreamServer = await startTestUpstream();
    t.teardown(() => upstreamServer.close());
    const service = await build(t, { upstream: createUpstream({ url: upstreamServer.url, timeoutMs: 10_000 }) });
    const api = createGraphqlClient(service.urls.http);
    const consumer = Wallet.createRandom();
    const { key } = await signInForApiKey(api, service.urls.http, consumer);
    await enact(service, [
      modelPolicy("im-a", 64),
      modelPolicy("im-b", 64),
      modelPolicy("im-c", 64),
      {
        grantAllocation: { grantee: consumer.address, modelId: "", tokensPerEpoch: "100000", start: 0, end: 4e9 },
      },
    ]);
    const openai = new OpenAI({ apiKey: key, baseURL: service.urls.gateway, maxRetries: 0 });
    const call = (model: string, maxTokens: number) =>
      openai.chat.completions
        .create({ model, max_tokens: maxTokens, messages: [{ role: "user", content: "impact commons" }] })
        .then(
          () => "ADMITTED",
          (error: unknown) => (error instanceof OpenAI.APIError ? String(error.code) : Promise.reject(error)),
        );
    // The gateway reloads its policies on the index's notification: call until the enacted policy is in force
    // (a call refused before then is replayed as the others are).
    await until(async () => ((await call("im-a", 8)) === "ADMITTED" ? true : undefined), "im-a in force");
    const made = [];
    for (const [model, max] of [
      ["im-a", 8],
      ["im-a", 8],
      ["im-a", 8],
      ["im-b", 32],
      ["im-b", 32],
      ["im-b", 8],
      ["im-c", 8],
      ["im-never", 8],
    ] as const) {
      made.push(await call(model, max));
    }
    t.same(made, [...Array(7).fill("ADMITTED"), "MODEL_NOT_APPROVED"], "the audited calls");

    const change = [
      { suspendModel: { modelId: "im-a", reason: "under review" } },
      modelPolicy("im-b", 16),
      modelPolicy("im-c", 64, ["weapons"]),
    ];
    const proposalId = await proposeDraft(service, change);
    const impactNow = async () => (await api.request(PROPOSAL_IMPACT, { proposalId })).proposalImpact;
    const expected = await impactNow();
    t.ok(expected.replay.newlyRefused >= 5, "the suspension and the lower limit refuse the audited calls");
    t.same(
      expected.replay.notEvaluable.map((n) => [n.reason, n.calls]),
      [["CONTENT_RULES", 1]],
      "the call to im-c cannot be decided under new blocked terms",
    );

    const context = await launchBrowser(t);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));

    /** Every figure of the impact section of `page` against `impact` (the replay and, when asked, more). */
    const sameFigures = async (t: Test, page: Page, impact: Preview, parts: { diff: boolean }) => {
      const section = page.getByTestId("impact");
      const { replay, simulation, diff } = impact;
      await section.getByTestId("impact-replay").waitFor({ timeout: 30_000 });
      t.equal(
        await text(section.getByTestId("replay-summary")),
        `Of ${plural(replay.calls, "audited call")}, ${number(replay.evaluated)} could be decided again under the new policies: ${number(replay.newlyRefused)} newly refused, ${number(replay.newlyAdmitted)} newly admitted, affecting ${plural(replay.consumersAffected, "consumer")}.`,
        "the replay's counts",
      );
      t.same(
        await cells(section.getByTestId("impact-replay").getByTestId("outcome-change")),
        replay.changes.map((c) => [outcome(c.from), outcome(c.to), number(c.calls), number(c.consumers)]),
        "each change of outcome by reason code",
      );
      t.same(
        await cells(section.getByTestId("budget-change")),
        replay.budgets
          .filter((b) => b.change !== 0)
          .map((b) => [
            b.budget.replace("grant:", "grant #"),
            number(b.tokensBefore),
            number(b.tokensAfter),
            signed(b.change),
          ]),
        "the tokens per budget",
      );
      const notEvaluable = section.getByTestId("not-evaluable");
      t.equal(await notEvaluable.count(), replay.notEvaluable.length);
      for (const [i, n] of replay.notEvaluable.entries()) {
        t.equal(
          await text(notEvaluable.nth(i)),
          `${plural(n.calls, "call")} could not be decided again (${n.reason.toLowerCase().replace(/_/g, " ")}): ${n.explanation}.`,
          "what could not be decided is said plainly",
        );
      }
      await section.getByTestId("impact-simulation").waitFor({ timeout: 30_000 });
      t.equal(
        await text(section.getByTestId("simulation-outcome")),
        `✓ Every call succeeds as the timelock would run it (copy of block ${simulation.blockNumber}), using ${number(simulation.gasUsed)} gas.`,
        "the simulation executes, with its gas",
      );
      t.same(
        await cells(section.getByTestId("simulated-call")),
        simulation.calls.map((c) => [
          String(c.index + 1),
          `${c.target.slice(0, 6)}…${c.target.slice(-4)}`,
          "succeeded",
          number(c.gasUsed ?? 0),
        ]),
        "each call's outcome and gas",
      );
      t.equal(await section.getByTestId("simulation-warning").count(), simulation.warnings.length, "no warning");
      if (!parts.diff) return;
      const models = section.getByTestId("impact-model");
      t.equal(await models.count(), diff.models.length);
      for (const m of diff.models) {
        const shown = await text(models.filter({ hasText: m.modelId }));
        for (const f of m.fields) {
          t.ok(shown.includes(`${value(f.before)} → becomes ${value(f.after)}`), `${m.modelId}: ${f.field}`);
        }
      }
    };

    await t.test("a pending proposal's page shows the diff, the simulation and the replay", async (t) => {
      await page.goto(new URL(`/proposals/${proposalId}`, service.urls.http).toString());
      await sameFigures(t, page, expected, { diff: true });
      const section = page.getByTestId("impact");
      t.match(
        await text(section.getByTestId("impact-model").filter({ hasText: "im-a" })),
        /suspended: false → becomes true/,
      );
      t.match(
        await text(section.getByTestId("impact-model").filter({ hasText: "im-b" })),
        /max tokens per request: 64 → becomes 16/,
      );
      t.match(
        await text(section.getByTestId("impact-model").filter({ hasText: "im-c" })),
        /blocked terms: none → becomes weapons/,
      );
      t.match(await text(section.getByTestId("impact-shadow")), /Once queued, every call the service decides/);
      t.same(await accessibilityProblems(page), [], "no serious or critical accessibility problem");
      await screenshot(page, "proposal-impact");
    });

    await t.test("queued, the page shows what shadow mode observed", async (t) => {
      await passProposal(service, proposalId, { execute: false });
      // The gateway starts shadowing on the index's notification: call until a call is shadowed.
      const shadowed = await until(async () => {
        await call("im-a", 8);
        const { shadow } = await impactNow();
        return shadow.calls > 0 ? shadow : undefined;
      }, "a call decided under the queued proposal");
      t.equal(shadowed.queued, true);
      const impact = await impactNow();
      const { shadow } = impact;
      await page.reload();
      await page.getByTestId("proposal-state").filter({ hasText: "queued" }).waitFor();
      await page.getByTestId("shadow-summary").waitFor({ timeout: 30_000 });
      t.equal(
        await text(page.getByTestId("shadow-summary")),
        `Since it was queued, ${plural(shadow.calls, "call")} were also decided under it: ${number(shadow.changed)} would change (${number(shadow.newlyRefused)} newly refused, ${number(shadow.newlyAdmitted)} newly admitted), affecting ${plural(shadow.consumersAffected, "consumer")}; tokens ${signed(shadow.tokensChange)} (an estimate).`,
        "the shadow figures",
      );
      t.same(
        await cells(page.getByTestId("impact-shadow").getByTestId("outcome-change")),
        shadow.changes.map((c) => [outcome(c.from), outcome(c.to), number(c.calls), number(c.consumers)]),
      );
      t.ok(shadow.newlyRefused > 0, "the suspended model's live calls would be refused");
      await sameFigures(t, page, impact, { diff: false });
    });

    await t.test("the New proposal page previews a draft's impact without a wallet", async (t) => {
      await page.goto(new URL("/new", service.urls.http).toString());
      await page.getByLabel("Title and description").fill("Suspend im-b");
      const form = page.getByTestId("action-0");
      await form.getByLabel("Kind").selectOption("SUSPEND_MODEL");
      await form.getByLabel("Model id").fill("im-b");
      await form.getByLabel("Reason").fill("review");
      await page.getByRole("button", { name: "Preview what it will do" }).click();
      await page.getByTestId("impact").getByTestId("impact-replay").waitFor({ timeout: 30_000 });
      const { draftProposal } = await api.request(PREVIEW, {
        input: {
          description: "Suspend im-b",
          actions: [{ suspendModel: { modelId: "im-b", reason: "review" } }],
          proposer: ZeroAddress,
        },
      });
      t.ok(draftProposal.impact.replay.newlyRefused >= 3, "the calls to im-b would be refused");
      await sameFigures(t, page, draftProposal.impact, { diff: true });
      // Editing the form makes the preview stale: it goes.
      await form.getByLabel("Reason").fill("review again");
      await page.getByTestId("impact").waitFor({ state: "detached" });

      // A model the registry does not know: the contract would refuse the call, and the whole batch reverts.
      await form.getByLabel("Model id").fill("im-unknown");
      await page.getByRole("button", { name: "Preview what it will do" }).click();
      await page.getByTestId("impact").getByTestId("impact-simulation").waitFor({ timeout: 30_000 });
      const refused = await api.request(PREVIEW, {
        input: {
          description: "Suspend im-b",
          actions: [{ suspendModel: { modelId: "im-unknown", reason: "review again" } }],
          proposer: ZeroAddress,
        },
      });
      const { diff, simulation } = refused.draftProposal.impact;
      const problem = diff.problems[0];
      const error = simulation.calls[0]?.error;
      t.equal(problem?.error, "RegistryUnknownModel", "the diff names the contract's refusal");
      t.equal(simulation.executes, false);
      t.equal(
        await text(page.getByTestId("impact-problem")),
        `⚠ Call 1 will be refused by the contracts (${problem?.error}: ${problem?.message}), so the whole proposal would fail to execute.`,
      );
      t.equal(
        await text(page.getByTestId("simulation-outcome")),
        `⚠ Executing it would fail: call 1 reverts with ${error?.name}(${error?.args.join(", ")}), and the timelock undoes the whole batch (copy of block ${simulation.blockNumber}).`,
      );
      t.same(await cells(page.getByTestId("simulated-call")), [
        [
          "1",
          `${simulation.calls[0]?.target.slice(0, 6)}…${simulation.calls[0]?.target.slice(-4)}`,
          `reverted (${error?.name})`,
          simulation.calls[0]?.gasUsed == null ? "–" : number(simulation.calls[0].gasUsed),
        ],
      ]);
      t.equal(await page.getByTestId("simulation-warning").count(), simulation.warnings.length);
    });

    await t.test("a guardian change is previewed before and after, in words", async (t) => {
      await page.goto(new URL("/new", service.urls.http).toString());
      await page.getByLabel("Title and description").fill("A shorter brake, and no guardian");
      await page.getByTestId("action-0").getByLabel("Kind").selectOption("SET_GUARDIAN_SUSPENSION_PERIOD");
      await page.getByTestId("action-0").getByLabel("Suspension period (seconds)").fill("7200");
      await page.getByRole("button", { name: "Add an action" }).click();
      await page.getByTestId("action-1").getByLabel("Kind").selectOption("SET_GUARDIAN");
      await page.getByTestId("action-1").getByLabel("New guardian address").fill(ZeroAddress);
      await page.getByRole("button", { name: "Preview what it will do" }).click();
      const guardian = page.getByTestId("impact").getByTestId("impact-guardian");
      await guardian.waitFor({ timeout: 30_000 });
      const { diff } = await api
        .request(GUARDIAN_DIFF, {
          input: {
            description: "A shorter brake, and no guardian",
            actions: [{ setGuardianSuspensionPeriod: { period: 7200 } }, { setGuardian: { guardian: ZeroAddress } }],
            proposer: ZeroAddress,
          },
        })
        .then((r) => r.draftProposal.impact);
      const appointed = diff.guardian[0]?.before as string;
      t.same(diff.guardian, [
        { field: "guardian", before: appointed, after: ZeroAddress },
        { field: "suspensionPeriod", before: "86400", after: "7200" },
      ]);
      t.same(await guardian.getByTestId("impact-field").evaluateAll((li) => li.map((l) => l.textContent)), [
        `guardian: ${appointed} → becomes no guardian`,
        "suspension lapses after: 1 d 0 h → becomes 2 h 0 min",
      ]);
    });

    t.same(pageErrors, [], "no uncaught error in the pages");
  },
);
