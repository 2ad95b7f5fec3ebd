import { useQuery } from "@tanstack/preact-query";
import { Link } from "wouter-preact";
import { api } from "../../api.ts";
import { usePageTitle } from "../../components/page-title.ts";
import { Problem } from "../../components/problem.tsx";
import { dateTime, tokens } from "../../format.ts";
import { graphql } from "../../gql/gql.ts";
import type { WebPoliciesQuery } from "../../gql/graphql.ts";
import { GuidelineCheck } from "./guideline-check.tsx";

const POLICIES = graphql(`
  query WebPolicies {
    policies(first: 100) {
      edges {
        node {
          modelId
          current {
            version approved suspended suspendReason suspendedUntil suspendedBy maxTokensPerRequest requestsPerMinute
            allowedPurposes blockedTerms guidelineUri guidelineHash
            enactedBy { proposalId transactionHash blockNumber blockTime }
          }
          history { version approved suspended maxTokensPerRequest requestsPerMinute enactedBy { proposalId blockTime } }
        }
      }
    }
  }
`);

type ModelPolicy = WebPoliciesQuery["policies"]["edges"][number]["node"];

function EnactedBy({ by }: { by: { proposalId: string | null; blockNumber?: number; blockTime: number } }) {
  return by.proposalId ? (
    <>
      proposal <Link href={`/proposals/${by.proposalId}`}>{by.proposalId.slice(0, 10)}…</Link> on{" "}
      {dateTime(by.blockTime)}
    </>
  ) : (
    <>the deployment, {dateTime(by.blockTime)}</>
  );
}

function PolicyCard({ policy, open }: { policy: ModelPolicy; open: boolean }) {
  const v = policy.current;
  // A guardian's suspension that lapsed is no longer enforced (the gateway decides the same way).
  const lapsed = v.suspendedUntil != null && v.suspendedUntil * 1000 <= Date.now();
  const suspended = v.suspended && !lapsed;
  const status = suspended ? "suspended" : v.approved ? "approved" : "not approved";
  return (
    <li class={`card policy ${suspended ? "suspended" : ""}`} data-testid="policy-card">
      <h2>
        <Link href={`/policies/${encodeURIComponent(policy.modelId)}`}>{policy.modelId}</Link>{" "}
        <span class={`state state-${status.replace(" ", "-")}`}>{status}</span>
      </h2>
      {suspended ? (
        <p class="problem">
          <strong>Suspended:</strong> {v.suspendReason || "no reason given"}. Calls to this model are refused
          (MODEL_SUSPENDED).
        </p>
      ) : null}
      {v.suspendedBy ? (
        <p data-testid="guardian-action">
          Emergency brake by the guardian <code>{v.suspendedBy}</code>
          {v.suspendedUntil != null
            ? `, ${lapsed ? "lapsed" : "lapses"} ${dateTime(v.suspendedUntil)} unless a vote confirms it`
            : ""}
          .
        </p>
      ) : null}
      <dl class="facts">
        <dt>Max tokens per request</dt>
        <dd data-testid="max-tokens">{tokens(v.maxTokensPerRequest)}</dd>
        <dt>Requests per minute per consumer</dt>
        <dd>{tokens(v.requestsPerMinute)}</dd>
        <dt>Purposes</dt>
        <dd>{v.allowedPurposes.length ? v.allowedPurposes.join(", ") : "any purpose"}</dd>
        <dt>Blocked content terms</dt>
        <dd>{v.blockedTerms.length ? v.blockedTerms.join(", ") : "none"}</dd>
        <dt>Guideline</dt>
        <dd>
          <a href={v.guidelineUri} rel="noreferrer noopener" target="_blank" class="break">
            {v.guidelineUri}
          </a>
          <br />
          <code class="break">{v.guidelineHash}</code>
          <br />
          <GuidelineCheck uri={v.guidelineUri} hash={v.guidelineHash} />
        </dd>
        <dt>Version {v.version} enacted by</dt>
        <dd>
          <EnactedBy by={v.enactedBy} /> (block {v.enactedBy.blockNumber})
        </dd>
      </dl>
      <details open={open}>
        <summary>Earlier versions ({policy.history.length - 1})</summary>
        <ol class="history">
          {policy.history.slice(1).map((h) => (
            <li key={h.version}>
              v{h.version}: {h.suspended ? "suspended" : h.approved ? "approved" : "not approved"}, max{" "}
              {tokens(h.maxTokensPerRequest)} tokens, {tokens(h.requestsPerMinute)}/min; by{" "}
              <EnactedBy by={h.enactedBy} />
            </li>
          ))}
        </ol>
      </details>
      <p>
        <Link href={`/new?model=${encodeURIComponent(policy.modelId)}`}>Propose a change to {policy.modelId}</Link>
      </p>
    </li>
  );
}

/** Every model's policy in force (suspended ones first), or one model's, with where each version came from. */
export function PoliciesPage({ model }: { model?: string }) {
  usePageTitle(model ? `Policy of ${model}` : "Policies");
  const policies = useQuery({ queryKey: ["policies"], queryFn: () => api.request(POLICIES) });
  const all = (policies.data?.policies.edges ?? []).map((e) => e.node);
  const shown = (model ? all.filter((p) => p.modelId === model) : all).sort(
    (a, b) => Number(b.current.suspended) - Number(a.current.suspended) || a.modelId.localeCompare(b.modelId),
  );
  return (
    <>
      <h1>{model ? `Policy of ${model}` : "Model policies"}</h1>
      <p>
        What governance decided for each model: the gateway enforces exactly this on every call.{" "}
        {model ? <Link href="/policies">All models</Link> : null}
      </p>
      <Problem error={policies.error} label="Loading policies" />
      {policies.isPending ? <p aria-busy="true">Loading policies…</p> : null}
      {policies.data && shown.length === 0 ? (
        <p>
          {model ? `Governance never set a policy for ${model}.` : "No model has a policy yet."}{" "}
          <Link href="/new">Propose one</Link>.
        </p>
      ) : null}
      <ul class="cards" aria-label="Models">
        {shown.map((p) => (
          <PolicyCard key={p.modelId} policy={p} open={Boolean(model)} />
        ))}
      </ul>
    </>
  );
}
