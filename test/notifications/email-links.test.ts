import t from "tap";
import { until } from "../../services/devkit/until.ts";
import { apiKeyFor, build, proposeDraft } from "../helpers/app.ts";
import { CREATE, gql, policyAction } from "./notify.ts";
import { startSmtp } from "./smtp.ts";

/**
 * A mail already sent keeps working: an email subscription's secret signs the links of every mail sent, so
 * it is never rotated (a webhook's is), and the one-click unsubscribe of an earlier mail still unsubscribes.
 */
t.test(
  "an email subscription's secret cannot be rotated: the unsubscribe link of an earlier mail still works",
  async (t) => {
    const smtp = await startSmtp();
    t.teardown(smtp.close);
    const service = await build(t, {
      env: { SMTP_URL: smtp.url, SMTP_FROM: "AI Commons <notify@commons.test>", NOTIFY_RETRY_BASE_MS: "50" },
    });
    const { key } = await apiKeyFor(service, 0);
    const created = await gql(
      service,
      CREATE,
      { input: { channel: "EMAIL", target: "bob@commons.test", eventTypes: ["proposal.created"] } },
      key,
    );
    const id = created.data?.createSubscription.subscription.id as string;
    const confirmation = await until(
      () => smtp.mails.find((m) => m.to.includes("bob@commons.test")),
      "the confirmation",
    );
    t.equal((await fetch(/Confirm: (\S+)/.exec(confirmation.text)?.[1] as string)).status, 200);

    const first = await proposeDraft(service, [policyAction("links-first")]);
    const earlier = await until(() => smtp.mails.find((m) => m.text.includes(first)), "the first event's mail");
    const unsubscribe = /^<(.+)>$/.exec(earlier.headers.get("list-unsubscribe") ?? "")?.[1] as string;

    const rotated = await gql(
      service,
      `mutation($id: ID!) { rotateSubscriptionSecret(id: $id) { secret } }`,
      { id },
      key,
    );
    t.equal(rotated.data, null);
    t.match(rotated.errors?.[0], {
      message: /email subscription's links stay valid/,
      extensions: { code: "BAD_USER_INPUT", reason: "EMAIL_HAS_NO_SECRET" },
    });

    // The next mail carries the same link: nothing about the subscription's signing changed.
    const second = await proposeDraft(service, [policyAction("links-second")]);
    const later = await until(() => smtp.mails.find((m) => m.text.includes(second)), "the second event's mail");
    t.equal(later.headers.get("list-unsubscribe"), earlier.headers.get("list-unsubscribe"));

    // RFC 8058: the client POSTs the earlier mail's link, and it unsubscribes.
    const gone = await fetch(unsubscribe, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    t.equal(gone.status, 200);
    const state = await gql(service, `{ subscriptions { id active } }`, {}, key);
    t.same(state.data?.subscriptions, [{ id, active: false }]);
  },
);
