import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Contract, concat, JsonRpcProvider, keccak256, parseEther, parseUnits, toUtf8Bytes, Wallet } from "ethers";
import OpenAI from "openai";
import type { Page } from "playwright-core";
import t from "tap";
import { encodeAction } from "../../services/chain/actions.ts";
import { contractInterface } from "../../services/chain/artifacts.ts";
import { send } from "../../services/cli/chain-actions.ts";
import { browserMissing } from "../../services/devkit/chromium.ts";
import { advanceTo, apiKeyFor, build } from "../helpers/app.ts";
import { subscribe } from "../notifications/notify.ts";
import { startReceiver } from "../notifications/receiver.ts";
import { accessibilityProblems, launchBrowser, screenshot } from "./browser.ts";
import { TestWallet } from "./test-wallet.ts";

const OPERATOR_TOKEN = "operator-token-for-the-web-test";
const GUIDELINE = "# web-1\n\nUse web-1 for education and research. No weapons.\n";
const MODEL = "web-1";

/** A guideline document on another origin that lets other sites read it (CORS), as a published one would. */
async function serveGuideline(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/markdown", "access-control-allow-origin": "*" });
    response.end(GUIDELINE);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/guidelines/web-1.md`;
}

const missing = browserMissing();

t.test(
  "a voter's whole loop by clicking: connect, delegate, propose, vote, queue, execute, then use the AI",
  { skip: missing ? `the browser tests need chromium: ${missing}` : false },
  async (t) => {
    const guidelineUri = await serveGuideline(t);
    // Short anchoring periods, so that the receipts of the calls below are anchored while the test runs.
    const service = await build(t, {
      env: { OPERATOR_TOKEN, ANCHOR_PERIOD_S: "2", ANCHOR_DELAY_MS: "0", NOTIFY_ALLOW_LOOPBACK: "true" },
    });
    const base = service.urls.http;
    const provider = new JsonRpcProvider(service.urls.rpc, undefined, { cacheTimeout: -1, pollingInterval: 50 });
    t.teardown(() => provider.destroy());
    const { deployment } = service.deps;
    const holders = service.devChain?.holders ?? [];
    const funder = new Wallet((holders[0] as { privateKey: string }).privateKey, provider);
    const token = new Contract(deployment.contracts.token, contractInterface("token"), funder);
    const governor = new Contract(deployment.contracts.governor, contractInterface("governor"), provider);

    // Alice and Bob: new wallets with ETH for gas and 300,000 governance tokens each, not yet delegated.
    const alice = Wallet.createRandom();
    const bob = Wallet.createRandom();
    for (const w of [alice, bob]) {
      await send("funding", () => funder.sendTransaction({ to: w.address, value: parseEther("1") }));
      await send("transferring tokens", () => token.getFunction("transfer")(w.address, parseUnits("300000", 18)));
    }
    // The wallet starts on another chain (1), as a wallet usually is.
    const wallet = new TestWallet(service.urls.rpc, [alice.privateKey, bob.privateKey], { chainId: 1 });
    t.teardown(() => wallet.close());

    // A receiver that is down for the whole loop: the Operator page shows its proposal.created waiting, and why.
    const failing = await startReceiver();
    t.teardown(failing.close);
    failing.mode = "fail";
    const subscription = await subscribe(service, (await apiKeyFor(service, 0)).key, {
      channel: "WEBHOOK",
      target: failing.url,
      eventTypes: ["proposal.created"],
    });

    const context = await launchBrowser(t);
    const page = await context.newPage();
    await wallet.install(page);
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));

    /** Opens a page of the app by its URL, checks it with axe-core and saves its screenshot. */
    const visit = async (p: Page, path: string, heading: string | RegExp, shot?: string) => {
      await p.goto(new URL(path, base).toString());
      await p.getByRole("heading", { level: 1, name: heading }).waitFor();
      return shot ? check(p, shot) : undefined;
    };
    const check = async (p: Page, shot: string) => {
      t.same(await accessibilityProblems(p), [], `${shot}: no serious or critical accessibility problem`);
      await screenshot(p, shot);
    };
    const alertText = (p: Page, text: string | RegExp) => p.getByRole("alert").filter({ hasText: text }).first();
    const status = (p: Page, text: string | RegExp) => p.getByRole("status").filter({ hasText: text }).first();

    await t.test("reading needs no wallet; a wallet on the wrong chain is asked to switch", async (t) => {
      await visit(page, "/", "Proposals", "proposals-empty");
      await page.getByRole("button", { name: "Connect Test Wallet" }).click();
      await alertText(page, "Your wallet is on chain 1; this service runs on chain 31337.").waitFor();
      await visit(page, "/delegates", "Delegates");
      await page.getByRole("button", { name: "Delegate to myself" }).click();
      await alertText(page, "Use “Switch network” at the top of the page").waitFor();
      // The wallet does not know the development chain: the app adds it (wallet_addEthereumChain), then switches.
      await page.getByRole("button", { name: "Switch network" }).click();
      await page.getByRole("button", { name: "Switch network" }).waitFor({ state: "detached" });
      t.equal(wallet.chainId, deployment.chainId, "the wallet is on the service's chain");
    });

    await t.test("both delegate to themselves from the wallet", async (t) => {
      for (const index of [0, 1]) {
        await wallet.use(index);
        await page.getByRole("button", { name: "Delegate to myself" }).click();
        await status(page, "Your votes are delegated to yourself").waitFor();
      }
      await page.getByRole("row").filter({ hasText: "(you)" }).filter({ hasText: "300,000" }).waitFor();
      t.equal(await token.getFunction("getVotes")(alice.address), parseUnits("300000", 18));
      t.equal(await token.getFunction("getVotes")(bob.address), parseUnits("300000", 18));
      await check(page, "delegates");
      await wallet.use(0);
    });

    const watcher = await context.newPage();
    await visit(watcher, "/", "Proposals");
    let proposalUrl = "";

    await t.test("Alice proposes from the form; a refused signature is shown in words", async (t) => {
      await visit(page, "/new", "New proposal");
      await page.getByLabel("Title and description").fill("Approve web-1 for schools\n\nEducation and research only.");
      const form = page.getByTestId("action-0");
      await form.getByLabel("Model id").fill(MODEL);
      await form.getByLabel("Max tokens per request").fill("0");
      await form.getByLabel("Requests per minute per consumer").fill("60");
      // Checked as typed, with the service's own rules.
      await form.getByText("Max tokens per request must be between 1 and 4294967295, got 0").waitFor();
      await form.getByLabel("Max tokens per request").fill("512");
      await form.getByLabel("Allowed purposes").fill("education, research");
      await form.getByLabel("Blocked content terms").fill("weapons");
      await form.getByLabel("Guideline document URI").fill(guidelineUri);
      await form.getByLabel("Guideline document hash").fill(keccak256(toUtf8Bytes(GUIDELINE)));
      t.equal(await form.locator("[aria-invalid=true]").count(), 0, "the first action is valid");
      await page.getByRole("button", { name: "Add an action" }).click();
      const grant = page.getByTestId("action-1");
      await grant.getByLabel("Kind").selectOption("GRANT_ALLOCATION");
      await grant.getByLabel("Grantee address").fill(alice.address);
      await grant.getByLabel("Tokens per epoch").fill("1000");
      await check(page, "new-proposal");

      wallet.refuseNext();
      await page.getByRole("button", { name: "Propose from my wallet" }).click();
      await alertText(page, "You declined the request in your wallet.").waitFor();
      await page.getByRole("button", { name: "Propose from my wallet" }).click();
      await page.waitForURL(/\/proposals\/\d+$/);
      proposalUrl = new URL(page.url()).pathname;
      await page.getByRole("heading", { level: 1, name: "Approve web-1 for schools" }).waitFor({ timeout: 20_000 });
      // A new proposal appears on an open list without a reload (GraphQL subscription).
      await watcher.getByRole("link", { name: "Approve web-1 for schools" }).waitFor({ timeout: 20_000 });
    });

    const proposalId = BigInt(proposalUrl.split("/").pop() as string);
    const read = async (fn: string) => BigInt(await governor.getFunction(fn)(proposalId));

    await t.test("the proposal page says what changes, checked against the calldata", async (t) => {
      await page.getByTestId("calldata-check").filter({ hasText: "✓ These words are exactly what will run" }).waitFor();
      const changes = page.getByRole("region", { name: "What it changes" });
      await changes.getByText("Approve new model web-1").waitFor();
      t.match(await changes.textContent(), /max tokens per request: not set\s*→?\s*becomes\s*512/);
      t.match(await changes.textContent(), /tokens per epoch for .*: 0\s*→?\s*becomes\s*1,000 tokens\/epoch/);
      await page.getByText("Raw calls (2)").click();
      t.equal(await page.getByRole("cell", { name: "✓ exactly" }).count(), 2, "both raw calls re-encode exactly");
      await advanceTo(provider, (await read("proposalSnapshot")) + 1n);
      await page.reload();
      await page.getByTestId("proposal-state").filter({ hasText: "active" }).waitFor();
      await check(page, "proposal");
    });

    await t.test("Alice votes from her wallet, Bob by a gasless ballot; neither can vote twice", async (t) => {
      await page.getByLabel("Reason (optional, public)").fill("Useful for schools");
      await page.getByRole("button", { name: "Vote from my wallet" }).click();
      await status(page, "Your for vote is in block").waitFor();
      await page.getByTestId("vote").filter({ hasText: "Useful for schools" }).waitFor();

      await wallet.use(1);
      await page.getByLabel("Reason (optional, public)").fill("");
      await page.getByRole("button", { name: "Sign a gasless ballot" }).click();
      await status(page, "The service relayed your signed for ballot").waitFor();
      await page.getByTestId("vote").nth(1).waitFor();
      // The open list's tally moved without a reload.
      await watcher.getByText("2 votes").waitFor({ timeout: 20_000 });
      t.equal(await governor.getFunction("hasVoted")(proposalId, bob.address), true, "Bob's relayed ballot counted");

      await page.getByTestId("my-vote").waitFor();
      await page.getByRole("button", { name: "Sign a gasless ballot" }).click();
      await alertText(page, "has already voted on proposal").waitFor();
      await wallet.use(0);
      await page.getByRole("button", { name: "Vote from my wallet" }).click();
      await alertText(page, "This account has already voted on this proposal.").waitFor();
    });

    await t.test("anyone queues it, executing too early is refused in words, then it executes", async (t) => {
      await advanceTo(provider, (await read("proposalDeadline")) + 1n);
      await page.reload();
      await page.getByRole("button", { name: "Queue" }).click();
      await status(page, "Queued in block").waitFor();
      await page.getByRole("button", { name: "Execute" }).waitFor();
      await page.getByRole("button", { name: "Execute" }).click();
      await alertText(page, "Too early: the timelock has not released this proposal yet.").waitFor();
      await advanceTo(provider, await read("proposalEta"));
      await page.getByRole("button", { name: "Execute" }).click();
      await status(page, "Executed in block").waitFor();
      await page.getByTestId("proposal-state").filter({ hasText: "executed" }).waitFor();
      t.equal(await read("state"), 7n, "the governor has it executed");
      await check(page, "proposal-executed");
    });

    await t.test("the Policies page shows the policy in force, its guideline checked", async (t) => {
      await visit(page, "/policies", "Model policies");
      const card = page.getByTestId("policy-card").filter({ hasText: MODEL });
      await card.getByTestId("guideline-check").filter({ hasText: "✓ Document checked" }).waitFor();
      t.equal(await card.getByTestId("max-tokens").textContent(), "512");
      t.match(await card.textContent(), /education, research/);
      await check(page, "policies");
      // Keyboard users start with a way past the navigation.
      await page.keyboard.press("Tab");
      t.equal(await page.evaluate("document.activeElement?.textContent"), "Skip to content");
      await page.keyboard.press("Enter");
      t.equal(await page.evaluate("document.activeElement?.id"), "main");
      await visit(page, `/policies/${MODEL}`, `Policy of ${MODEL}`);
      await visit(page, `/delegates/${alice.address}`, /Delegate/, "delegate");
    });

    let apiKey = "";
    await t.test("Alice signs in on My AI, calls the model with the openai SDK, and sees her calls", async (t) => {
      await visit(page, "/my-ai", "My AI");
      await page.getByRole("button", { name: "Sign in with Ethereum and create a key" }).click();
      apiKey = (await page.getByTestId("new-key").textContent()) ?? "";
      t.match(apiKey, /^sk-commons-/);
      const openai = new OpenAI({
        apiKey,
        baseURL: service.urls.gateway,
        defaultHeaders: { "x-commons-purpose": "education" },
        maxRetries: 0,
      });
      const answer = await openai.chat.completions.create({
        model: MODEL,
        max_tokens: 32,
        messages: [{ role: "user", content: "Why should a community govern its AI?" }],
      });
      t.ok(answer.choices[0]?.message.content, "the call was admitted and answered");
      const refused = await openai.chat.completions
        .create({ model: "never-approved", max_tokens: 8, messages: [{ role: "user", content: "hi" }] })
        .then(
          () => undefined,
          (error: unknown) => (error instanceof OpenAI.APIError ? error.code : error),
        );
      t.equal(refused, "MODEL_NOT_APPROVED");
      await page.reload();
      await page.getByTestId("decision-row").filter({ hasText: "refused: MODEL_NOT_APPROVED" }).waitFor();
      await page.getByTestId("decision-row").filter({ hasText: "admitted" }).waitFor();
      await page.getByTestId("budget-row").filter({ hasText: "grant #" }).waitFor();
      // The admitted call's receipt, checked in the page: its proof, against the root its period anchored.
      const admittedRow = page.getByTestId("decision-row").filter({ hasText: "admitted" }).first();
      await admittedRow.getByRole("button", { name: "verify receipt" }).click();
      const verified = admittedRow.getByTestId("receipt-status");
      const again = admittedRow.getByRole("button", { name: /check again/ });
      // Until the period is anchored, the page says so and offers to check again.
      for (let attempt = 0; attempt < 100; attempt++) {
        await verified.or(again).first().waitFor();
        if ((await verified.count()) > 0) break;
        await again.click();
      }
      t.match(await verified.textContent(), /proof verified|verified against the root on chain/);
      t.equal(await page.getByTestId("new-key").count(), 0, "the key was shown once, and not after a reload");
      await page.getByLabel("Purpose of my calls").fill("education");
      await page.getByLabel("Purpose of my calls").press("Tab");
      await page.getByText("A call now would be admitted").waitFor();
      await check(page, "my-ai");
      await page
        .getByRole("listitem")
        .filter({ hasText: "sk-commons-" })
        .getByRole("button", { name: "Revoke" })
        .click();
      await status(page, "is revoked").waitFor();
      const revoked = await openai.models.list().then(
        () => undefined,
        (error: unknown) => (error instanceof OpenAI.APIError ? error.code : error),
      );
      t.equal(revoked, "INVALID_API_KEY", "a revoked key is refused");
    });

    await t.test("the Operator page shows the calls, usage over time, the index and notification health", async (t) => {
      await visit(page, "/operator", "Operator");
      await page.getByLabel("Operator token (OPERATOR_TOKEN of the service)").fill(OPERATOR_TOKEN);
      await page.getByRole("button", { name: "Use for this tab" }).click();
      await page.getByTestId("decision-row").filter({ hasText: "refused: MODEL_NOT_APPROVED" }).first().waitFor();
      await page.getByTestId("usage-chart").locator("canvas").waitFor();
      await page.getByRole("textbox", { name: "Model" }).first().fill(MODEL);
      await page.getByRole("textbox", { name: "Consumer" }).first().fill(alice.address);
      await page.getByRole("textbox", { name: "Purpose" }).fill("education");
      await page.getByRole("button", { name: "Show" }).click();
      await page.getByText(`${MODEL}: policy v1, approved`).waitFor();
      await page.getByText("A call now would be admitted").waitFor();
      t.match(await page.getByTestId("indexed-block").textContent(), /^\d+ of \d+$/);
      const health = page.getByTestId("notification-health");
      const row = health.getByTestId("notification-health-row").filter({ hasText: subscription.id });
      await row.filter({ hasText: "0 / 1 / 0" }).waitFor({ timeout: 15_000 });
      t.match(await row.textContent(), /HTTP 500/, "the last error of its delivery");
      t.match(await row.textContent(), /ago\)/, "how long its delivery has waited");
      t.equal(await health.getByTestId("notifications-pending").textContent(), "1");
      t.equal(await health.getByTestId("notifications-dead").textContent(), "0");
      t.ok(failing.requests >= 1, "the service did try to deliver it");
      await check(page, "operator");
    });

    await t.test("a proposal whose calldata says more than its words gets a visible warning", async (t) => {
      const policyCall = encodeAction(deployment.contracts, {
        kind: "SUSPEND_MODEL",
        modelId: MODEL,
        reason: "looks harmless",
      });
      // Extra bytes after the arguments: decoders read the same words, but this is not what they encode.
      const tampered = concat([policyCall.calldata, "0xdeadbeef"]);
      const proposer = new Wallet((holders[2] as { privateKey: string }).privateKey, provider);
      const description = "Suspend web-1 (tampered)";
      await send("proposing", () =>
        new Contract(deployment.contracts.governor, contractInterface("governor"), proposer).getFunction("propose")(
          [policyCall.target],
          [0n],
          [tampered],
          description,
        ),
      );
      const id = await governor.getFunction("hashProposal")(
        [policyCall.target],
        [0n],
        [tampered],
        keccak256(toUtf8Bytes(description)),
      );
      await visit(page, `/proposals/${id}`, description);
      await page.getByTestId("calldata-check").filter({ hasText: "⚠ Some calls do not match" }).waitFor();
      await page.getByText("Raw calls (1)").click();
      t.equal(await page.getByRole("cell", { name: "⚠ no" }).count(), 1);
      await check(page, "proposal-mismatch");
    });

    await t.test("the list filters by state and searches", async (t) => {
      await watcher.getByRole("button", { name: "executed" }).click();
      await watcher.waitForURL(/state=EXECUTED/);
      const cards = watcher.getByTestId("proposal-card");
      await cards.filter({ hasText: "Approve web-1 for schools" }).waitFor();
      t.equal(await cards.filter({ hasText: "(tampered)" }).count(), 0, "an active proposal is not listed as executed");
      await watcher.getByRole("button", { name: "All" }).click();
      await watcher.getByRole("searchbox", { name: "Search" }).fill("tampered");
      await cards.filter({ hasText: "(tampered)" }).waitFor();
      t.equal(await cards.count(), 1, "the search keeps only the matching proposal");
    });

    await t.test("when the service is down, the page says so and what to do", async (t) => {
      await service.close();
      await page.getByRole("link", { name: "Policies" }).click();
      const alert = alertText(page, "cannot reach the service");
      await alert.waitFor();
      t.match(
        await alert.textContent(),
        /at http:\/\/127\.0\.0\.1:\d+\/graphql: is it running\?\s*Check that the service is running/,
      );
      await page.getByTestId("live").filter({ hasText: "Live updates lost: reconnecting" }).waitFor();
    });

    t.same(pageErrors, [], "no uncaught error in the pages");
  },
);
