import { useMutation, useQuery } from "@tanstack/preact-query";
import { useState } from "preact/hooks";
import { EVENT_TYPES } from "../../../../notifications/events.ts";
import { withBearer } from "../../api.ts";
import { usePageTitle } from "../../components/page-title.ts";
import { Problem } from "../../components/problem.tsx";
import { graphql } from "../../gql/gql.ts";
import { useSessionValue } from "../../session.ts";

const MY_SUBSCRIPTIONS = graphql(`
  query WebMySubscriptions {
    subscriptions { id channel target eventTypes proposalIds models delegates verified active createdAt }
    notificationHealth { subscriptionId pending delivered dead oldestPendingAt lastError }
  }
`);

const CREATE_SUBSCRIPTION = graphql(`
  mutation WebCreateSubscription($input: SubscriptionInput!) {
    createSubscription(input: $input) { secret subscription { id } }
  }
`);

const DELETE_SUBSCRIPTION = graphql(`
  mutation WebDeleteSubscription($id: ID!) { deleteSubscription(id: $id) }
`);

const ROTATE_SECRET = graphql(`
  mutation WebRotateSubscriptionSecret($id: ID!) { rotateSubscriptionSecret(id: $id) { secret subscription { id } } }
`);

/** The API key My AI signed in with (this tab's session). */
interface Session {
  key: string;
  address: string;
}

/** A comma- or space-separated list as the filter it means: empty is "all" (null). */
function list(text: string): string[] | null {
  const items = text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length > 0 ? items : null;
}

function NewSubscription({ session, onCreated }: { session: Session; onCreated: (secret: string | null) => void }) {
  const [channel, setChannel] = useState<"WEBHOOK" | "EMAIL">("WEBHOOK");
  const [target, setTarget] = useState("");
  const [types, setTypes] = useState<string[]>([]);
  const [delegates, setDelegates] = useState("");
  const [models, setModels] = useState("");
  const [proposals, setProposals] = useState("");
  const create = useMutation({
    mutationFn: () =>
      withBearer(session.key).request(CREATE_SUBSCRIPTION, {
        input: {
          channel,
          target: target.trim(),
          eventTypes: types.length > 0 ? types : null,
          delegates: list(delegates),
          models: list(models),
          proposalIds: list(proposals),
        },
      }),
    onSuccess: (data) => {
      onCreated(data.createSubscription.secret ?? null);
      setTarget("");
    },
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <fieldset>
        <legend>Send to</legend>
        <label>
          <input type="radio" checked={channel === "WEBHOOK"} onChange={() => setChannel("WEBHOOK")} /> a webhook
          (signed per Standard Webhooks)
        </label>
        <label>
          <input type="radio" checked={channel === "EMAIL"} onChange={() => setChannel("EMAIL")} /> an email address
          (confirmed by a link first)
        </label>
      </fieldset>
      <label for="notify-target">{channel === "WEBHOOK" ? "Webhook URL" : "Email address"}</label>
      <input
        id="notify-target"
        required
        value={target}
        placeholder={channel === "WEBHOOK" ? "https://hooks.example.org/commons" : "me@example.org"}
        onInput={(e) => setTarget((e.target as HTMLInputElement).value)}
      />
      <fieldset>
        <legend>Events (none ticked: all of them)</legend>
        {EVENT_TYPES.map((type) => (
          <label key={type}>
            <input
              type="checkbox"
              checked={types.includes(type)}
              onChange={(e) =>
                setTypes((e.target as HTMLInputElement).checked ? [...types, type] : types.filter((t) => t !== type))
              }
            />{" "}
            <code>{type}</code>
          </label>
        ))}
      </fieldset>
      <label for="notify-delegates">Delegates I follow (their votes: vote.cast), addresses separated by commas</label>
      <input
        id="notify-delegates"
        value={delegates}
        onInput={(e) => setDelegates((e.target as HTMLInputElement).value)}
      />
      <label for="notify-models">Only these models (optional)</label>
      <input id="notify-models" value={models} onInput={(e) => setModels((e.target as HTMLInputElement).value)} />
      <label for="notify-proposals">Only these proposals (ids, optional)</label>
      <input
        id="notify-proposals"
        value={proposals}
        onInput={(e) => setProposals((e.target as HTMLInputElement).value)}
      />
      <button type="submit" disabled={create.isPending || !target.trim()}>
        Subscribe
      </button>
      <Problem error={create.error} label="Subscribing" />
    </form>
  );
}

/** My notification subscriptions: make, rotate, delete, and how their deliveries fare. */
export function NotificationsPage() {
  usePageTitle("Notifications");
  const [session] = useSessionValue<Session>("commons.session");
  const [secret, setSecret] = useState<string | null>();
  const mine = useQuery({
    queryKey: ["subscriptions", session?.key],
    queryFn: () => withBearer((session as Session).key).request(MY_SUBSCRIPTIONS),
    enabled: session !== undefined,
    refetchInterval: 10_000,
  });
  const remove = useMutation({
    mutationFn: (id: string) => withBearer((session as Session).key).request(DELETE_SUBSCRIPTION, { id }),
    onSuccess: () => mine.refetch(),
  });
  const rotate = useMutation({
    mutationFn: (id: string) => withBearer((session as Session).key).request(ROTATE_SECRET, { id }),
    onSuccess: (data) => setSecret(data.rotateSubscriptionSecret.secret ?? null),
  });

  if (!session) {
    return (
      <>
        <h1>Notifications</h1>
        <p>
          Sign in with your wallet on <a href="/my-ai">My AI</a> first: subscriptions belong to your address.
        </p>
      </>
    );
  }
  const health = new Map((mine.data?.notificationHealth ?? []).map((h) => [h.subscriptionId, h]));
  return (
    <>
      <h1>Notifications</h1>
      <p>
        Be told when a proposal is made, when voting opens and is about to close, how it ended, when a rule for a model
        you use is queued or in force, when your budget reaches 80% and 100%, and when the guardian acts.
      </p>
      {secret ? (
        <div class="notice success" role="status">
          <p>
            <strong>The webhook's signing secret. Store it now: it is not shown again.</strong>
          </p>
          <code class="break" data-testid="webhook-secret">
            {secret}
          </code>
          <p>
            <button type="button" onClick={() => setSecret(undefined)}>
              I have stored it
            </button>
          </p>
        </div>
      ) : null}
      <section class="panel" aria-labelledby="subscriptions">
        <h2 id="subscriptions">My subscriptions</h2>
        <Problem error={mine.error ?? remove.error ?? rotate.error} label="Subscriptions" />
        {mine.data && mine.data.subscriptions.length === 0 ? <p>None yet.</p> : null}
        <table>
          <thead>
            <tr>
              <th>Where</th>
              <th>Events</th>
              <th>State</th>
              <th>Delivered / waiting / dead</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(mine.data?.subscriptions ?? []).map((s) => {
              const h = health.get(s.id);
              return (
                <tr key={s.id}>
                  <td>
                    {s.channel === "WEBHOOK" ? "Webhook" : "Email"} <code class="break">{s.target}</code>
                  </td>
                  <td>{s.eventTypes ? s.eventTypes.join(", ") : "all"}</td>
                  <td>
                    {!s.active ? "unsubscribed" : s.verified ? "active" : "waiting for the address's confirmation"}
                  </td>
                  <td>
                    {h ? `${h.delivered} / ${h.pending} / ${h.dead}` : "-"}
                    {h?.lastError ? <p class="muted">Last error: {h.lastError}</p> : null}
                  </td>
                  <td>
                    {s.channel === "WEBHOOK" ? (
                      <button type="button" class="secondary" onClick={() => rotate.mutate(s.id)}>
                        New secret
                      </button>
                    ) : null}{" "}
                    <button type="button" class="secondary" onClick={() => remove.mutate(s.id)}>
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      <section class="panel" aria-labelledby="subscribe">
        <h2 id="subscribe">Subscribe</h2>
        <NewSubscription
          session={session}
          onCreated={(created) => {
            setSecret(created);
            void mine.refetch();
          }}
        />
      </section>
    </>
  );
}
