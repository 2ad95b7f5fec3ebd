import t from "tap";
import { apiKeyFor, build, proposeDraft } from "../helpers/app.ts";
import { until } from "../helpers/until.ts";
import { policyAction, subscribe } from "./notify.ts";
import { startReceiver } from "./receiver.ts";

t.test("on the embedded default (PGlite), events are written and delivered too", async (t) => {
  const receiver = await startReceiver();
  t.teardown(receiver.close);
  const service = await build(t, { database: "pglite", env: { NOTIFY_ALLOW_LOOPBACK: "true" } });
  const { key } = await apiKeyFor(service, 0);
  const sub = await subscribe(service, key, {
    channel: "WEBHOOK",
    target: receiver.url,
    eventTypes: ["proposal.created"],
  });
  receiver.secrets = [sub.secret];
  const proposalId = await proposeDraft(service, [policyAction("pglite-notify")]);
  await until(() => (receiver.events.length >= 1 ? true : undefined), "the event at the receiver");
  t.match(receiver.events, [{ type: "proposal.created", data: { proposalId } }]);
  t.equal(receiver.rejected, 0);
});
