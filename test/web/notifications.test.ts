import t from "tap";
import { browserMissing } from "../../services/devkit/chromium.ts";
import { until } from "../../services/devkit/until.ts";
import { apiKeyFor, build, proposeDraft } from "../helpers/app.ts";
import { policyAction } from "../notifications/notify.ts";
import { startReceiver } from "../notifications/receiver.ts";
import { accessibilityProblems, launchBrowser, screenshot } from "./browser.ts";

const missing = browserMissing();

t.test(
  "the Notifications page: subscribe a webhook, see its secret once, then its deliveries",
  { skip: missing },
  async (t) => {
    const receiver = await startReceiver();
    t.teardown(receiver.close);
    const service = await build(t, { env: { NOTIFY_ALLOW_LOOPBACK: "true" } });
    const issued = await apiKeyFor(service, 0);
    const context = await launchBrowser(t);
    const page = await context.newPage();
    // The tab signed in on My AI: its session holds the key (the sign-in itself is tested in governance.test.ts).
    await page.addInitScript((session) => sessionStorage.setItem("commons.session", JSON.stringify(session)), {
      id: issued.id,
      key: issued.key,
      address: issued.address,
    });
    await page.goto(`${service.urls.http}/notifications`);
    await page.getByRole("heading", { name: "My subscriptions" }).waitFor();

    await page.getByLabel("Webhook URL").fill("http://169.254.169.254/latest");
    await page.getByRole("button", { name: "Subscribe" }).click();
    await page.getByText("Use a public address").waitFor();

    await page.getByLabel("Webhook URL").fill(receiver.url);
    await page.getByLabel("proposal.created").check();
    await page.getByRole("button", { name: "Subscribe" }).click();
    const secret = (await page.getByTestId("webhook-secret").textContent()) ?? "";
    t.match(secret, /^whsec_/);
    receiver.secrets = [secret];
    await page.getByRole("cell", { name: "proposal.created" }).waitFor();

    await proposeDraft(service, [policyAction("web-notify")]);
    await until(() => (receiver.events.length >= 1 ? true : undefined), "the event at the receiver");
    await page.getByRole("cell", { name: "1 / 0 / 0" }).waitFor({ timeout: 15_000 });
    t.same(await accessibilityProblems(page), []);
    await screenshot(page, "notifications");

    await page.getByRole("button", { name: "Delete" }).click();
    await page.getByText("None yet.").waitFor();
  },
);
