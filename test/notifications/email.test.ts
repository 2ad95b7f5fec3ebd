import t from "tap";
import { until } from "../../services/devkit/until.ts";
import { apiKeyFor, build, proposeDraft } from "../helpers/app.ts";
import { CREATE, gql, policyAction } from "./notify.ts";
import { startSmtp } from "./smtp.ts";

t.test("email: confirmed first, then plain readable mail with a one-click unsubscribe that works", async (t) => {
  const smtp = await startSmtp({ refuse: ["nobody@commons.test"] });
  t.teardown(smtp.close);
  const service = await build(t, {
    env: { SMTP_URL: smtp.url, SMTP_FROM: "AI Commons <notify@commons.test>", NOTIFY_RETRY_BASE_MS: "50" },
  });
  const { key } = await apiKeyFor(service, 0);

  const refused = await gql(service, CREATE, { input: { channel: "EMAIL", target: "nobody@commons.test" } }, key);
  t.equal(refused.errors?.[0]?.extensions.code, "EMAIL_UNVERIFIABLE", "an address the server refuses");
  const list = await gql(service, `{ subscriptions { id } }`, {}, key);
  t.same(list.data?.subscriptions, [], "and no subscription is left behind");

  const created = await gql(
    service,
    CREATE,
    { input: { channel: "EMAIL", target: "alice@commons.test", eventTypes: ["proposal.created"] } },
    key,
  );
  const sub = created.data?.createSubscription;
  t.match(sub, { secret: null, subscription: { channel: "EMAIL", verified: false } });
  const confirmation = await until(
    () => smtp.mails.find((m) => m.to.includes("alice@commons.test")),
    "the confirmation",
  );
  const confirmLink = /Confirm: (\S+)/.exec(confirmation.text)?.[1] as string;
  t.ok(confirmLink.startsWith(`${service.urls.http}/notifications/confirm?token=`));

  // Nothing is mailed before the address is confirmed.
  const before = await proposeDraft(service, [policyAction("mail-before")]);
  const tampered = await fetch(`${confirmLink.slice(0, -3)}AAA`);
  t.equal(tampered.status, 400);
  t.equal(tampered.headers.get("x-error-code"), "LINK_INVALID");
  const confirmed = await fetch(confirmLink);
  t.equal(confirmed.status, 200);
  const after = await proposeDraft(service, [policyAction("mail-after")]);
  const mail = await until(() => smtp.mails.find((m) => m.text.includes(after)), "the event's mail");
  t.notOk(
    smtp.mails.some((m) => m.text.includes(before)),
    "the event before the confirmation was not mailed",
  );
  t.match(mail.headers.get("subject"), /New proposal/);
  t.match(mail.headers.get("content-type"), /^text\/plain/);
  t.match(mail.text, /proposalId: \d+/);
  t.match(mail.text, /event id: [0-9a-f-]{36}/);
  t.equal(mail.headers.get("list-unsubscribe-post"), "List-Unsubscribe=One-Click");
  const unsubscribe = /^<(.+)>$/.exec(mail.headers.get("list-unsubscribe") ?? "")?.[1] as string;
  t.ok(mail.text.includes(`Unsubscribe (one click): ${unsubscribe}`), "the link is in the text too");

  // RFC 8058: the mail client POSTs the link.
  const gone = await fetch(unsubscribe, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "List-Unsubscribe=One-Click",
  });
  t.equal(gone.status, 200);
  const state = await gql(service, `{ subscriptions { active } }`, {}, key);
  t.same(state.data?.subscriptions, [{ active: false }]);
  const count = smtp.mails.length;
  const later = await proposeDraft(service, [policyAction("mail-later")]);
  const { db } = service.deps.database;
  await until(async () => {
    const row = await db
      .selectFrom("notification_events")
      .select("fanned_out")
      .where("proposal_id", "=", later)
      .executeTakeFirst();
    return row?.fanned_out ? true : undefined;
  }, "the deliverer to have matched the later event against the subscriptions");
  const queued = await db.selectFrom("notification_deliveries").selectAll().execute();
  t.equal(queued.filter((d) => d.status === "pending").length, 0, "nothing is queued for the unsubscribed address");
  t.equal(smtp.mails.length, count, "nothing more is mailed");
});

t.test("confirmation mails are bounded per address and per owner: create and delete cannot mail-bomb", async (t) => {
  const smtp = await startSmtp();
  t.teardown(smtp.close);
  const service = await build(t, {
    env: {
      SMTP_URL: smtp.url,
      NOTIFY_CONFIRMATIONS_PER_ADDRESS: "2",
      NOTIFY_CONFIRMATIONS_PER_OWNER: "3",
    },
  });
  const alice = (await apiKeyFor(service, 0)).key;
  const bob = (await apiKeyFor(service, 1)).key;
  const DELETE = `mutation($id: ID!) { deleteSubscription(id: $id) }`;
  const subscribeAndDelete = async (target: string, key: string) => {
    const created = await gql(service, CREATE, { input: { channel: "EMAIL", target } }, key);
    const id = created.data?.createSubscription?.subscription.id;
    if (id) await gql(service, DELETE, { id }, key);
    return created;
  };
  const mailsTo = (address: string) => smtp.mails.filter((m) => m.to.includes(address)).length;

  for (let i = 0; i < 2; i++) t.notOk((await subscribeAndDelete("victim@commons.test", alice)).errors, `mail ${i + 1}`);
  await until(() => (mailsTo("victim@commons.test") === 2 ? true : undefined), "both confirmations");
  const third = await subscribeAndDelete("victim@commons.test", alice);
  t.equal(third.errors?.[0]?.extensions.code, "CONFIRMATION_LIMIT", "the address's third mail in a day is refused");
  t.match(third.errors?.[0]?.message, /victim@commons\.test was sent 2 confirmation mails in the last 24 hours/);
  t.match(third.errors?.[0]?.extensions, { maximum: 2, retryAt: /^\d{4}-\d\d-\d\dT/ }, "and says when it may be sent");
  const byBob = await subscribeAndDelete("victim@commons.test", bob);
  t.equal(byBob.errors?.[0]?.extensions.code, "CONFIRMATION_LIMIT", "whoever asks");

  t.notOk((await subscribeAndDelete("other@commons.test", alice)).errors, "another address: alice's third mail");
  const fourth = await subscribeAndDelete("third@commons.test", alice);
  t.equal(fourth.errors?.[0]?.extensions.code, "CONFIRMATION_LIMIT", "an owner's fourth mail in a day, to anyone");
  t.match(fourth.errors?.[0]?.message, /^0x[0-9a-fA-F]{40} was sent 3 confirmation mails/);
  t.notOk((await subscribeAndDelete("third@commons.test", bob)).errors, "bob may still mail a fresh address");

  await until(() => (mailsTo("third@commons.test") === 1 ? true : undefined), "bob's confirmation");
  t.equal(mailsTo("victim@commons.test"), 2, "the address got two mails, however often it was asked");
  t.equal(smtp.mails.length, 4, "no refused request sent anything");
  const left = await gql(service, `{ subscriptions { id } }`, {}, alice);
  t.same(left.data?.subscriptions, [], "and a refused request leaves no subscription behind");
});
