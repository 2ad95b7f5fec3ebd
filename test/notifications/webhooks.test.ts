import { JsonRpcProvider } from "ethers";
import t from "tap";
import { until } from "../../services/devkit/until.ts";
import { apiKeyFor, build, enact, holderWallet, proposeDraft } from "../helpers/app.ts";
import { gql, HEALTH, policyAction, subscribe, subscribedReceiver, voteAndEnd } from "./notify.ts";
import { startReceiver } from "./receiver.ts";

const env = {
  NOTIFY_ALLOW_LOOPBACK: "true",
  NOTIFY_VOTING_ENDS_WITHIN_S: "60",
  NOTIFY_TIMEOUT_MS: "300",
  NOTIFY_RETRY_BASE_MS: "50",
  NOTIFY_RETRY_MAX_MS: "200",
};

t.test("a governance history reaches a verifying receiver: signed, in order, each event once", async (t) => {
  const receiver = await startReceiver();
  t.teardown(receiver.close);
  const service = await build(t, { env });
  const { key } = await apiKeyFor(service, 0);
  const provider = new JsonRpcProvider(service.urls.rpc);
  t.teardown(() => provider.destroy());
  const followed = holderWallet(service, 1, provider).address;
  const sub = await subscribe(service, key, { channel: "WEBHOOK", target: receiver.url, delegates: [followed] });
  t.match(sub.secret, /^whsec_/);
  receiver.secrets = [sub.secret];

  const proposalId = await enact(service, [policyAction("notify-model")]);
  // Every holder votes FOR: the super quorum (all of the supply on the development chain) decides it at
  // the last vote, before "voting ends soon" would be due, so that one is not sent.
  const expected = [
    "proposal.created",
    "proposal.voting_started",
    "vote.cast",
    "proposal.succeeded",
    "proposal.queued",
    "proposal.executed",
  ];
  const mine = () => receiver.events.filter((e) => e.data.proposalId === proposalId);
  await until(() => (mine().length >= expected.length ? true : undefined), "the proposal's events");
  t.same(
    mine().map((e) => e.type),
    expected,
  );
  const vote = mine().find((e) => e.type === "vote.cast");
  t.equal(vote?.data.voter, followed, "only the followed delegate's vote");
  t.equal(vote?.data.support, "FOR");
  t.equal(receiver.rejected, 0, "every request verified");
  t.equal(new Set(receiver.events.map((e) => e.id)).size, receiver.events.length, "ids are unique");

  const defeated = await proposeDraft(service, [policyAction("notify-defeated")]);
  await voteAndEnd(service, defeated, 1, "AGAINST");
  const lost = () => receiver.events.filter((e) => e.data.proposalId === defeated);
  await until(() => (lost().length >= 5 ? true : undefined), "the defeated proposal's events");
  t.same(
    lost().map((e) => e.type),
    ["proposal.created", "proposal.voting_started", "vote.cast", "proposal.voting_ending", "proposal.defeated"],
  );
  t.match(lost()[4]?.data, { forVotes: "0", againstVotes: /^[1-9]/ });

  const health = await gql(service, HEALTH, {}, key);
  t.match(health.data?.notificationHealth, [{ subscriptionId: sub.id, pending: 0, dead: 0 }]);
  t.equal(health.data?.notificationHealth[0].delivered, receiver.events.length);
});

t.test("failing, hanging and stopped receivers get everything once they are back", async (t) => {
  const { receiver, service, key } = await subscribedReceiver(t, { env });

  receiver.mode = "fail";
  const first = await proposeDraft(service, [policyAction("fail-1")]);
  await until(() => (receiver.requests >= 2 ? true : undefined), "retries to a failing receiver");
  receiver.mode = "hang";
  const second = await proposeDraft(service, [policyAction("fail-2")]);
  const seen = receiver.requests;
  await until(() => (receiver.requests >= seen + 2 ? true : undefined), "retries after timeouts");
  await receiver.stop();
  const third = await proposeDraft(service, [policyAction("fail-3")]);
  const health = await gql(service, HEALTH, {}, key);
  t.ok(health.data?.notificationHealth[0].pending >= 1, "undelivered events wait");
  t.ok(health.data?.notificationHealth[0].lastError, "the last error is shown");

  receiver.mode = "accept";
  await receiver.restart();
  await until(() => (receiver.events.length >= 3 ? true : undefined), "the backlog once the receiver is back");
  // Each proposal is its own lane: order holds within a proposal, not across proposals.
  t.same(receiver.events.map((e) => e.data.proposalId).sort(), [first, second, third].sort());
  t.equal(receiver.rejected, 0);
});

t.test("a receiver down longer than NOTIFY_DEAD_AFTER_MS: its events are dead-lettered and shown", async (t) => {
  const { receiver, service, key } = await subscribedReceiver(t, { env: { ...env, NOTIFY_DEAD_AFTER_MS: "600" } });
  receiver.mode = "fail";
  await proposeDraft(service, [policyAction("dead-1")]);
  const dead = await until(async () => {
    const health = await gql(service, HEALTH, {}, key);
    const row = health.data?.notificationHealth[0];
    return row?.dead === 1 ? row : undefined;
  }, "the event dead-lettered");
  t.match(dead, { pending: 0, delivered: 0, lastError: /HTTP 500/ });
  const deliveries = async (result: string) => {
    const metrics = await (await fetch(`${service.urls.http}/metrics`)).text();
    const line = metrics.match(
      new RegExp(`^commons_notification_deliveries_total\\{channel="webhook",result="${result}"\\} (\\d+)$`, "m"),
    );
    return Number(line?.[1] ?? 0);
  };
  t.equal(await deliveries("dead"), 1, "operators see the dead letter on /metrics");
  t.ok((await deliveries("failed")) >= 1, "and the failed attempts before it");

  receiver.mode = "accept";
  const next = await proposeDraft(service, [policyAction("dead-2")]);
  await until(() => (receiver.events.length >= 1 ? true : undefined), "the next event");
  t.same(
    receiver.events.map((e) => e.data.proposalId),
    [next],
    "the dead-lettered event is not sent again; later ones are",
  );
  const delivered = await until(async () => {
    const n = await deliveries("delivered");
    return n >= 1 ? n : undefined;
  }, "the delivery counted on /metrics");
  t.equal(delivered, 1, "and the delivery after it");
});

t.test("a rotated secret: the old and the new one both verify during the overlap", async (t) => {
  const { receiver, service, key, sub } = await subscribedReceiver(t, { env });
  const rotated = await gql(
    service,
    `mutation($id: ID!) { rotateSubscriptionSecret(id: $id) { secret subscription { id } } }`,
    { id: sub.id },
    key,
  );
  const fresh = rotated.data?.rotateSubscriptionSecret.secret as string;
  t.not(fresh, sub.secret);
  receiver.secrets = [sub.secret];
  await proposeDraft(service, [policyAction("rotate-1")]);
  await until(() => (receiver.events.length >= 1 ? true : undefined), "an event verified with the old secret");
  receiver.secrets = [fresh];
  await proposeDraft(service, [policyAction("rotate-2")]);
  await until(() => (receiver.events.length >= 2 ? true : undefined), "an event verified with the new secret");
  t.equal(receiver.rejected, 0);
});

t.test("a subscription receives what happens after it starts, not the events of earlier blocks", async (t) => {
  const receiver = await startReceiver();
  t.teardown(receiver.close);
  const service = await build(t, { env });
  const { key } = await apiKeyFor(service, 0);
  // Indexed, and in the outbox; whether the deliverer has matched it yet or not, it came before the subscription.
  const earlier = await proposeDraft(service, [policyAction("before-start")]);
  const sub = await subscribe(service, key, {
    channel: "WEBHOOK",
    target: receiver.url,
    eventTypes: ["proposal.created"],
  });
  receiver.secrets = [sub.secret];
  const later = await proposeDraft(service, [policyAction("after-start")]);
  await until(() => receiver.events.find((e) => e.data.proposalId === later), "the later proposal's event");
  t.same(
    receiver.events.map((e) => e.data.proposalId),
    [later],
    `only the proposal made after the subscription, not ${earlier}`,
  );
});
