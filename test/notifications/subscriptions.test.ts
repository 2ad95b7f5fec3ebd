import t from "tap";
import { checkWebhookUrl } from "../../services/notifications/targets.ts";
import { isAppError } from "../../services/shared/errors.ts";
import { apiKeyFor, build } from "../helpers/app.ts";
import { TEST_OPERATOR_TOKEN } from "../helpers/graphql.ts";
import { CREATE, gql } from "./notify.ts";

/** A public address nobody answers on (TEST-NET-3): valid as a target, never reached in these tests. */
const PUBLIC_HOOK = "http://203.0.113.10/hook";

t.test("subscriptions: owners, limits and bad input, each with its code", async (t) => {
  const service = await build(t, {
    env: { NOTIFY_SUBSCRIPTIONS_PER_OWNER: "2", OPERATOR_TOKEN: TEST_OPERATOR_TOKEN },
  });
  const alice = (await apiKeyFor(service, 0)).key;
  const bob = (await apiKeyFor(service, 1)).key;
  const create = (input: Record<string, unknown>, key: string | undefined = alice) =>
    gql(service, CREATE, { input }, key);
  const code = async (input: Record<string, unknown>, key?: string) =>
    (await create(input, key)).errors?.[0]?.extensions.code;

  t.equal(await code({ channel: "WEBHOOK", target: PUBLIC_HOOK }, ""), "UNAUTHENTICATED", "no key");
  t.equal(await code({ channel: "WEBHOOK", target: "not a url" }), "WEBHOOK_URL_INVALID");
  t.equal(await code({ channel: "WEBHOOK", target: "ftp://203.0.113.10/x" }), "WEBHOOK_URL_INVALID");
  t.equal(await code({ channel: "WEBHOOK", target: "http://user:pw@203.0.113.10/x" }), "WEBHOOK_URL_INVALID");
  t.equal(await code({ channel: "WEBHOOK", target: "http://127.0.0.1:9/x" }), "WEBHOOK_URL_FORBIDDEN", "loopback");
  t.equal(await code({ channel: "WEBHOOK", target: "http://localhost:9/x" }), "WEBHOOK_URL_FORBIDDEN", "by name");
  t.equal(await code({ channel: "WEBHOOK", target: "http://[::1]:9/x" }), "WEBHOOK_URL_FORBIDDEN", "IPv6 loopback");
  t.equal(
    await code({ channel: "WEBHOOK", target: "http://169.254.169.254/latest" }),
    "WEBHOOK_URL_FORBIDDEN",
    "link-local (cloud metadata)",
  );
  t.equal(await code({ channel: "WEBHOOK", target: "http://[::ffff:127.0.0.1]/x" }), "WEBHOOK_URL_FORBIDDEN", "mapped");
  t.equal(await code({ channel: "WEBHOOK", target: `${service.urls.http}/graphql` }), "WEBHOOK_URL_FORBIDDEN", "self");
  t.equal(await code({ channel: "EMAIL", target: "not-an-address" }), "EMAIL_UNVERIFIABLE");
  t.equal(await code({ channel: "EMAIL", target: "someone@example.org" }), "EMAIL_UNVERIFIABLE", "no SMTP_URL");
  t.equal(await code({ channel: "WEBHOOK", target: PUBLIC_HOOK, eventTypes: ["proposal.exploded"] }), "BAD_USER_INPUT");
  t.equal(await code({ channel: "WEBHOOK", target: PUBLIC_HOOK, eventTypes: [] }), "BAD_USER_INPUT");
  t.equal(await code({ channel: "WEBHOOK", target: PUBLIC_HOOK, delegates: ["0x12"] }), "BAD_USER_INPUT");

  const first = await create({ channel: "WEBHOOK", target: PUBLIC_HOOK, eventTypes: ["proposal.created"] });
  const mine = first.data?.createSubscription.subscription;
  t.match(mine, { channel: "WEBHOOK", verified: true, active: true, eventTypes: ["proposal.created"] });
  await create({ channel: "WEBHOOK", target: `${PUBLIC_HOOK}/2` });
  const third = await create({ channel: "WEBHOOK", target: `${PUBLIC_HOOK}/3` });
  t.equal(third.errors?.[0]?.extensions.code, "SUBSCRIPTION_LIMIT");

  const list = await gql(service, `{ subscriptions { id target } }`, {}, alice);
  t.equal(list.data?.subscriptions.length, 2, "the owner sees its own");
  const others = await gql(service, `{ subscriptions { id } }`, {}, bob);
  t.same(others.data?.subscriptions, [], "and nobody else's");
  const all = await gql(
    service,
    `{ subscriptions { id owner } notificationHealth { subscriptionId } }`,
    {},
    TEST_OPERATOR_TOKEN,
  );
  t.equal(all.data?.subscriptions.length, 2, "the operator sees everyone's");
  t.equal(all.data?.notificationHealth.length, 2);

  const DELETE = `mutation($id: ID!) { deleteSubscription(id: $id) }`;
  const stolen = await gql(service, DELETE, { id: mine.id }, bob);
  t.equal(stolen.errors?.[0]?.extensions.code, "NOT_FOUND", "another owner's subscription is not found");
  const rotateStolen = await gql(
    service,
    `mutation($id: ID!) { rotateSubscriptionSecret(id: $id) { secret } }`,
    { id: mine.id },
    bob,
  );
  t.equal(rotateStolen.errors?.[0]?.extensions.code, "NOT_FOUND");
  const removed = await gql(service, DELETE, { id: mine.id }, alice);
  t.equal(removed.data?.deleteSubscription, true);
  const again = await create({ channel: "WEBHOOK", target: `${PUBLIC_HOOK}/3` });
  t.ok(again.data?.createSubscription.secret, "a deleted subscription frees its place");
});

t.test("loopback receivers only with NOTIFY_ALLOW_LOOPBACK, and never the service itself", async (t) => {
  const rules = { allowLoopback: true, selfOrigins: ["http://127.0.0.1:4000"] };
  t.match(await checkWebhookUrl("http://localhost:4001/hook", rules), {
    url: { port: "4001" },
    address: /^(127\.|::1)/,
  });
  for (const url of ["http://127.0.0.1:4000/graphql", "http://localhost:4000/x", "http://127.0.0.2:4000/x"]) {
    const error = await checkWebhookUrl(url, rules).catch((e: unknown) => e);
    t.ok(isAppError(error, "WEBHOOK_URL_FORBIDDEN"), url);
  }
  const closed = await checkWebhookUrl("http://127.0.0.1:4001/hook", { ...rules, allowLoopback: false }).catch(
    (e: unknown) => e,
  );
  t.ok(isAppError(closed, "WEBHOOK_URL_FORBIDDEN"));
});
