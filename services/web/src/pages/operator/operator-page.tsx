import { useInfiniteQuery, useMutation, useQuery } from "@tanstack/preact-query";
import { isAddress } from "ethers";
import { useMemo, useState } from "preact/hooks";
import { checkOrder } from "../../../../policy/decide.ts";
import type { ReasonCode } from "../../../../shared/errors.ts";
import { api, withBearer } from "../../api.ts";
import { Budgets } from "../../components/budgets.tsx";
import { DecisionsTable } from "../../components/decisions-table.tsx";
import { LoadMore, nextCursor } from "../../components/load-more.tsx";
import { usePageTitle } from "../../components/page-title.ts";
import { Problem } from "../../components/problem.tsx";
import { UsageTable } from "../../components/usage-table.tsx";
import { dateTime, relative, shortAddress, tokens } from "../../format.ts";
import { graphql } from "../../gql/gql.ts";
import type { DecisionFilter, WebOperatorDecisionsQuery } from "../../gql/graphql.ts";
import { useSessionValue } from "../../session.ts";
import { UsageChart } from "./usage-chart.tsx";
import { usageOverTime } from "./usage-over-time.ts";

const SYNC_STATUS = graphql(`
  query WebSyncStatus { syncStatus { indexedBlock indexedBlockTime chainHead lag lastError lastErrorAt updatedAt } }
`);

const DECISIONS = graphql(`
  query WebOperatorDecisions($first: Int, $after: String, $filter: DecisionFilter) {
    decisions(first: $first, after: $after, filter: $filter) {
      pageInfo { hasNextPage endCursor }
      edges { node { ...DecisionFields } }
    }
  }
`);

const POLICY_STATUS = graphql(`
  query WebOperatorPolicyStatus($model: String!, $consumer: Address!, $purpose: String) {
    policyStatus(model: $model, consumer: $consumer, purpose: $purpose) {
      model consumer
      policy { version approved suspended maxTokensPerRequest requestsPerMinute allowedPurposes enactedBy { proposalId blockNumber } }
      epochStart epochEnd communityPoolLeft requestsThisMinute admitted reason message
      budgets { source grantId granted used reserved left }
      recentDecisions(first: 10) { ...DecisionFields }
    }
  }
`);

const NOTIFICATION_HEALTH = graphql(`
  query WebOperatorNotificationHealth {
    notificationHealth { subscriptionId owner channel active pending delivered dead oldestPendingAt lastError }
  }
`);

const LEDGER = graphql(`
  query WebLedger { usage { ...UsageFields } }
`);

/** Every reason a call can be refused with: the decision's own, in its order, then the upstream's. */
const reasonCodes = [...checkOrder, "UPSTREAM_ERROR"] as const satisfies readonly ReasonCode[];

/** Calls of the last 24 hours, at most this many pages of 100, for the chart. */
const CHART_PAGES = 10;

function SyncStatus() {
  const status = useQuery({
    queryKey: ["sync-status"],
    queryFn: () => api.request(SYNC_STATUS),
    refetchInterval: 5000,
  });
  const s = status.data?.syncStatus;
  return (
    <section class="panel" aria-labelledby="sync">
      <h2 id="sync">Index</h2>
      <Problem error={status.error} label="Reading the index status" />
      {s ? (
        <dl class="facts">
          <dt>Indexed block</dt>
          <dd data-testid="indexed-block">
            {s.indexedBlock} of {s.chainHead}
          </dd>
          <dt>Lag</dt>
          <dd class={s.lag > 5 ? "refused" : ""}>
            {s.lag} {s.lag === 1 ? "block" : "blocks"}
          </dd>
          <dt>Last saved</dt>
          <dd>{s.updatedAt ? new Date(s.updatedAt).toLocaleString("en-GB") : "never"}</dd>
          <dt>Last error</dt>
          <dd>{s.lastError ? `${s.lastError} (${s.lastErrorAt ?? ""})` : "none"}</dd>
        </dl>
      ) : null}
    </section>
  );
}

function PolicyStatusForm({ token }: { token: string }) {
  const [model, setModel] = useState("");
  const [consumer, setConsumer] = useState("");
  const [purpose, setPurpose] = useState("");
  const status = useMutation({
    mutationFn: () =>
      withBearer(token).request(POLICY_STATUS, {
        model: model.trim(),
        consumer: consumer.trim(),
        purpose: purpose.trim() || null,
      }),
  });
  const badConsumer = consumer.trim() !== "" && !isAddress(consumer.trim());
  const s = status.data?.policyStatus;
  return (
    <section class="panel" aria-labelledby="status">
      <h2 id="status">Policy status for a model and a consumer</h2>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (model.trim() && isAddress(consumer.trim())) status.mutate();
        }}
      >
        <label>
          Model <input value={model} onInput={(e) => setModel((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Consumer{" "}
          <input
            value={consumer}
            placeholder="0x…"
            aria-invalid={badConsumer}
            onInput={(e) => setConsumer((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Purpose{" "}
          <input
            value={purpose}
            placeholder="optional"
            onInput={(e) => setPurpose((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" disabled={status.isPending}>
          Show
        </button>
      </form>
      {badConsumer ? <p class="field-error">The consumer must be an Ethereum address.</p> : null}
      <Problem error={status.error} label="Policy status" />
      {s ? (
        <>
          <p>
            {s.policy
              ? `${s.model}: policy v${s.policy.version}, ${s.policy.suspended ? "suspended" : s.policy.approved ? "approved" : "not approved"}, max ${tokens(s.policy.maxTokensPerRequest)} tokens per request, ${s.policy.requestsPerMinute}/min; enacted by ${s.policy.enactedBy.proposalId ? `proposal ${s.policy.enactedBy.proposalId.slice(0, 10)}…` : "the deployment"} (block ${s.policy.enactedBy.blockNumber}).`
              : `Governance never set a policy for ${s.model}.`}{" "}
            {shortAddress(s.consumer)} made {s.requestsThisMinute ?? "?"} requests this minute.
          </p>
          <Budgets status={s} />
          <DecisionsTable
            rows={s.recentDecisions ?? []}
            caption="Their latest decisions on this model"
            showConsumer={false}
            token={token}
          />
        </>
      ) : null}
    </section>
  );
}

function Decisions({ token }: { token: string }) {
  const [consumer, setConsumer] = useState("");
  const [model, setModel] = useState("");
  const [admitted, setAdmitted] = useState("");
  const [reasonCode, setReasonCode] = useState("");
  const filter: DecisionFilter = {
    ...(isAddress(consumer.trim()) ? { consumer: consumer.trim() } : {}),
    ...(model.trim() ? { model: model.trim() } : {}),
    ...(admitted ? { admitted: admitted === "admitted" } : {}),
    ...(reasonCode ? { reasonCode } : {}),
  };
  const pages = useInfiniteQuery({
    queryKey: ["operator-decisions", token, filter],
    queryFn: ({ pageParam }) => withBearer(token).request(DECISIONS, { first: 25, after: pageParam ?? null, filter }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => nextCursor(last.decisions),
  });
  const rows = (pages.data?.pages ?? []).flatMap((p) => p.decisions.edges.map((e) => e.node));
  return (
    <section aria-labelledby="decisions">
      <h2 id="decisions">Decisions</h2>
      <form class="inline" onSubmit={(e) => e.preventDefault()}>
        <label>
          Consumer{" "}
          <input
            value={consumer}
            placeholder="0x…"
            onInput={(e) => setConsumer((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Model <input value={model} onInput={(e) => setModel((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Decision{" "}
          <select value={admitted} onChange={(e) => setAdmitted((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            <option value="admitted">admitted</option>
            <option value="refused">refused</option>
          </select>
        </label>
        <label>
          Reason{" "}
          <select value={reasonCode} onChange={(e) => setReasonCode((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {reasonCodes.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
      </form>
      <Problem error={pages.error} label="Loading decisions" />
      <DecisionsTable
        rows={rows}
        caption={`${rows.length} decisions, latest first`}
        showConsumer={true}
        token={token}
      />
      <LoadMore pages={pages} />
    </section>
  );
}

function Usage({ token }: { token: string }) {
  const client = withBearer(token);
  const recent = useQuery({
    queryKey: ["operator-usage-chart", token],
    queryFn: async () => {
      const since = new Date(Date.now() - 86_400_000).toISOString();
      const rows: WebOperatorDecisionsQuery["decisions"]["edges"][number]["node"][] = [];
      let after: string | null = null;
      for (let page = 0; page < CHART_PAGES; page++) {
        const { decisions }: WebOperatorDecisionsQuery = await client.request(DECISIONS, {
          first: 100,
          after,
          filter: { since },
        });
        rows.push(...decisions.edges.map((e) => e.node));
        if (!decisions.pageInfo.hasNextPage) break;
        after = decisions.pageInfo.endCursor;
      }
      return rows;
    },
  });
  const ledger = useQuery({ queryKey: ["operator-ledger", token], queryFn: () => client.request(LEDGER) });
  const chart = useMemo(() => usageOverTime(recent.data ?? []), [recent.data]);
  return (
    <section aria-labelledby="usage">
      <h2 id="usage">Usage over the last 24 hours</h2>
      <Problem error={recent.error ?? ledger.error} label="Loading usage" />
      {recent.data ? <UsageChart points={chart.points} bucketLabel={chart.bucketLabel} /> : null}
      <h3>Ledger per consumer, model and epoch</h3>
      <UsageTable rows={ledger.data?.usage ?? []} showConsumer={true} />
    </section>
  );
}

/** Whether notifications reach their subscribers: what waits, what died, since when, and why (every subscription). */
function NotificationHealth({ token }: { token: string }) {
  const health = useQuery({
    queryKey: ["operator-notification-health", token],
    queryFn: () => withBearer(token).request(NOTIFICATION_HEALTH),
    refetchInterval: 10_000,
  });
  const rows = health.data?.notificationHealth ?? [];
  const total = (count: (r: (typeof rows)[number]) => number) => rows.reduce((sum, r) => sum + count(r), 0);
  const dead = total((r) => r.dead);
  const waiting = rows.flatMap((r) => (r.oldestPendingAt === null ? [] : [r.oldestPendingAt]));
  const oldest = waiting.length > 0 ? Math.min(...waiting) : null;
  const since = (at: number) => `${dateTime(at)} (${relative(at)})`;
  return (
    <section class="panel" aria-labelledby="notifications" data-testid="notification-health">
      <h2 id="notifications">Notifications</h2>
      <Problem error={health.error} label="Reading notification health" />
      {health.data ? (
        <>
          <dl class="facts">
            <dt>Subscriptions</dt>
            <dd>
              {rows.length} ({rows.filter((r) => r.active).length} active)
            </dd>
            <dt>Waiting</dt>
            <dd data-testid="notifications-pending">{total((r) => r.pending)}</dd>
            <dt>Dead letters</dt>
            <dd class={dead > 0 ? "refused" : ""} data-testid="notifications-dead">
              {dead}
            </dd>
            <dt>Oldest waiting since</dt>
            <dd>{oldest === null ? "nothing waits" : since(oldest)}</dd>
          </dl>
          {rows.length > 0 ? (
            <table>
              <caption>Per subscription, oldest first</caption>
              <thead>
                <tr>
                  <th>Subscription</th>
                  <th>Owner</th>
                  <th>State</th>
                  <th>Delivered / waiting / dead</th>
                  <th>Oldest waiting since</th>
                  <th>Last error</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.subscriptionId} data-testid="notification-health-row">
                    <td>
                      {r.channel === "WEBHOOK" ? "Webhook" : "Email"} <code>{r.subscriptionId}</code>
                    </td>
                    <td>
                      <span class="address" title={r.owner}>
                        {shortAddress(r.owner)}
                      </span>
                    </td>
                    <td>{r.active ? "active" : "unsubscribed"}</td>
                    <td>
                      {r.delivered} / {r.pending} / {r.dead}
                    </td>
                    <td>{r.oldestPendingAt === null ? "-" : since(r.oldestPendingAt)}</td>
                    <td>{r.lastError ?? "-"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p>No subscriptions yet.</p>
          )}
        </>
      ) : null}
    </section>
  );
}

/** For operators, with the operator token (kept in this tab's session only). */
export function OperatorPage() {
  usePageTitle("Operator");
  const [token, setToken] = useSessionValue<string>("commons.operatorToken");
  const [typed, setTyped] = useState("");
  return (
    <>
      <h1>Operator</h1>
      <SyncStatus />
      {token ? (
        <p>
          Using the operator token for this tab.{" "}
          <button type="button" class="link" onClick={() => setToken(undefined)}>
            Forget it
          </button>
        </p>
      ) : (
        <form
          class="panel"
          onSubmit={(e) => {
            e.preventDefault();
            if (typed.trim()) setToken(typed.trim());
          }}
        >
          <label for="operator-token">Operator token (OPERATOR_TOKEN of the service)</label>
          <input
            id="operator-token"
            type="password"
            autoComplete="off"
            value={typed}
            onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
          />
          <button type="submit">Use for this tab</button>
          <p class="muted">Kept in this tab's session only; it is sent to this service and nowhere else.</p>
        </form>
      )}
      {token ? (
        <>
          <PolicyStatusForm token={token} />
          <NotificationHealth token={token} />
          <Usage token={token} />
          <Decisions token={token} />
        </>
      ) : null}
    </>
  );
}
