import t from "tap";
import { until } from "../../services/devkit/until.ts";
import { proposeDraft } from "../helpers/app.ts";
import { policyAction, subscribedReceiver } from "./notify.ts";

t.test("on the embedded default (PGlite), events are written and delivered too", async (t) => {
  const { receiver, service } = await subscribedReceiver(t, {
    database: "pglite",
    env: { NOTIFY_ALLOW_LOOPBACK: "true" },
  });
  const proposalId = await proposeDraft(service, [policyAction("pglite-notify")]);
  await until(() => (receiver.events.length >= 1 ? true : undefined), "the event at the receiver");
  t.match(receiver.events, [{ type: "proposal.created", data: { proposalId } }]);
  t.equal(receiver.rejected, 0);
});
