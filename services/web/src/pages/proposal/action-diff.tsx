import { useQuery } from "@tanstack/preact-query";
import type { ComponentChildren } from "preact";
import { Link } from "wouter-preact";
import type { Action } from "../../../../chain/actions.ts";
import { api } from "../../api.ts";
import { dateTime, duration, shortAddress, tokens, words } from "../../format.ts";
import { graphql } from "../../gql/gql.ts";

const MODEL_BASELINE = graphql(`
  query WebModelBaseline($model: String!) {
    policy(model: $model) {
      modelId
      history {
        version approved suspended suspendReason maxTokensPerRequest requestsPerMinute
        allowedPurposes blockedTerms guidelineUri guidelineHash
        enactedBy { proposalId }
      }
    }
  }
`);

const ALLOCATIONS_BASELINE = graphql(`
  query WebAllocationsBaseline {
    allocations(first: 100, includeRevoked: true) {
      edges { node { grantId grantee modelId tokensPerEpoch start end revoked enactedBy { proposalId } } }
      communityPool {
        allowancePerAddress poolSizePerEpoch epochLength enactedBy { proposalId }
        minVotes minVotesEnactedBy { proposalId }
      }
    }
  }
`);

/** One field that changes: before -> after. Unchanged fields are not listed. */
function Change({ label, before, after }: { label: string; before: ComponentChildren; after: ComponentChildren }) {
  return (
    <li>
      <span class="field">{label}</span>:{" "}
      {before === undefined ? <span class="muted">not set</span> : <del>{before}</del>}{" "}
      <span aria-hidden="true">→</span>
      <span class="visually-hidden">becomes</span> <ins>{after}</ins>
    </li>
  );
}

/** A list's entries that are added and removed (purposes, blocked terms). */
function ListChange({ label, before, after }: { label: string; before: string[]; after: string[] }) {
  const added = after.filter((x) => !before.includes(x));
  const removed = before.filter((x) => !after.includes(x));
  if (added.length === 0 && removed.length === 0) return null;
  return (
    <li>
      <span class="field">{label}</span>:{" "}
      {added.map((x) => (
        <ins key={`+${x}`}>+ “{x}” </ins>
      ))}
      {removed.map((x) => (
        <del key={`-${x}`}>− “{x}” </del>
      ))}
      {after.length === 0 && label === "purposes" ? <span class="muted">(now any purpose)</span> : null}
    </li>
  );
}

function useModelBaseline(modelId: string, proposalId: string) {
  const query = useQuery({
    queryKey: ["policy-baseline", modelId],
    queryFn: () => api.request(MODEL_BASELINE, { model: modelId }),
  });
  const history = query.data?.policy?.history ?? [];
  // Once executed, this proposal's own version is in force: compare with the version before it.
  const own = history.findLastIndex((v) => v.enactedBy.proposalId === proposalId);
  return { query, before: own >= 0 ? history[own + 1] : history[0] };
}

function ModelPolicyDiff({
  action,
  proposalId,
}: {
  action: Extract<Action, { kind: "SET_MODEL_POLICY" }>;
  proposalId: string;
}) {
  const { query, before } = useModelBaseline(action.modelId, proposalId);
  if (query.isPending) return <p aria-busy="true">Reading the policy in force…</p>;
  const verb = !before
    ? action.approved
      ? "Approve new model"
      : "Register model"
    : action.approved
      ? "Update model"
      : "Withdraw approval of model";
  const yesNo = (b: boolean) => (b ? "approved" : "not approved");
  const any = (list: string[]) => (list.length ? list.join(", ") : "any");
  return (
    <>
      <h3>
        {verb} <Link href={`/policies/${encodeURIComponent(action.modelId)}`}>{action.modelId}</Link>
      </h3>
      <ul class="diff">
        {before?.approved !== action.approved || before?.suspended ? (
          <Change
            label="status"
            before={before ? (before.suspended ? "suspended" : yesNo(before.approved)) : undefined}
            after={yesNo(action.approved)}
          />
        ) : null}
        {before?.maxTokensPerRequest !== action.maxTokensPerRequest ? (
          <Change
            label="max tokens per request"
            before={before ? tokens(before.maxTokensPerRequest) : undefined}
            after={tokens(action.maxTokensPerRequest)}
          />
        ) : null}
        {before?.requestsPerMinute !== action.requestsPerMinute ? (
          <Change
            label="requests per minute per consumer"
            before={before ? tokens(before.requestsPerMinute) : undefined}
            after={tokens(action.requestsPerMinute)}
          />
        ) : null}
        {before ? (
          <ListChange label="purposes" before={before.allowedPurposes} after={action.allowedPurposes} />
        ) : (
          <Change label="purposes" before={undefined} after={any(action.allowedPurposes)} />
        )}
        {before ? (
          <ListChange label="blocked terms" before={before.blockedTerms} after={action.blockedTerms} />
        ) : action.blockedTerms.length ? (
          <Change label="blocked terms" before={undefined} after={action.blockedTerms.join(", ")} />
        ) : null}
        {before?.guidelineUri !== action.guidelineUri || before?.guidelineHash !== action.guidelineHash ? (
          <Change
            label="guideline document"
            before={before?.guidelineUri}
            after={
              <span class="break">
                {action.guidelineUri} ({shortAddress(action.guidelineHash)})
              </span>
            }
          />
        ) : null}
      </ul>
      {before ? <p class="muted">Compared with version {before.version}, in force before this proposal.</p> : null}
    </>
  );
}

function SuspendDiff({
  action,
  proposalId,
}: {
  action: Extract<Action, { kind: "SUSPEND_MODEL" }>;
  proposalId: string;
}) {
  const { before } = useModelBaseline(action.modelId, proposalId);
  return (
    <>
      <h3>
        Suspend model <Link href={`/policies/${encodeURIComponent(action.modelId)}`}>{action.modelId}</Link>
      </h3>
      <ul class="diff">
        <Change
          label="status"
          before={before ? (before.suspended ? "suspended" : before.approved ? "approved" : "not approved") : undefined}
          after="suspended"
        />
        <li>
          <span class="field">reason</span>: {action.reason}
        </li>
      </ul>
    </>
  );
}

function useAllocations() {
  return useQuery({ queryKey: ["allocations-baseline"], queryFn: () => api.request(ALLOCATIONS_BASELINE) });
}

function GrantDiff({
  action,
  proposalId,
}: {
  action: Extract<Action, { kind: "GRANT_ALLOCATION" }>;
  proposalId: string;
}) {
  const allocations = useAllocations();
  const live = (allocations.data?.allocations.edges ?? [])
    .map((e) => e.node)
    .filter(
      (g) =>
        !g.revoked &&
        g.grantee === action.grantee &&
        g.modelId === action.modelId &&
        g.enactedBy.proposalId !== proposalId,
    );
  const before = live.reduce((sum, g) => sum + BigInt(g.tokensPerEpoch), 0n);
  const scope = action.modelId ? `model ${action.modelId}` : "any approved model";
  return (
    <>
      <h3>
        Grant compute to <Link href={`/delegates/${action.grantee}`}>{shortAddress(action.grantee)}</Link> ({scope})
      </h3>
      <ul class="diff">
        <Change
          label={`tokens per epoch for ${shortAddress(action.grantee)}`}
          before={`${tokens(before)}`}
          after={`${tokens(before + action.tokensPerEpoch)} tokens/epoch`}
        />
        <li>
          <span class="field">valid</span>: {dateTime(action.start)} to {dateTime(action.end)}
        </li>
      </ul>
    </>
  );
}

function RevokeDiff({ action }: { action: Extract<Action, { kind: "REVOKE_ALLOCATION" }> }) {
  const allocations = useAllocations();
  const grant = allocations.data?.allocations.edges
    .map((e) => e.node)
    .find((g) => g.grantId === String(action.grantId));
  return (
    <>
      <h3>Revoke grant #{String(action.grantId)}</h3>
      <ul class="diff">
        {grant ? (
          <Change
            label={`grant to ${shortAddress(grant.grantee)} (${grant.modelId || "any model"})`}
            before={`${tokens(grant.tokensPerEpoch)} tokens/epoch`}
            after="revoked"
          />
        ) : (
          <li class="warning">
            Grant #{String(action.grantId)} is not in the index: the call will revert if it does not exist.
          </li>
        )}
      </ul>
    </>
  );
}

function PoolDiff({
  action,
  proposalId,
}: {
  action: Extract<Action, { kind: "SET_COMMUNITY_POOL" }>;
  proposalId: string;
}) {
  const allocations = useAllocations();
  const pool = allocations.data?.allocations.communityPool;
  const before = pool && pool.enactedBy.proposalId !== proposalId ? pool : undefined;
  return (
    <>
      <h3>Set the community pool</h3>
      <ul class="diff">
        <Change
          label="allowance per address per epoch"
          before={before ? tokens(before.allowancePerAddress) : undefined}
          after={tokens(action.allowancePerAddress)}
        />
        <Change
          label="pool size per epoch"
          before={before ? tokens(before.poolSizePerEpoch) : undefined}
          after={tokens(action.poolSizePerEpoch)}
        />
        <Change
          label="epoch length (seconds)"
          before={before ? tokens(before.epochLength) : undefined}
          after={tokens(action.epochLength)}
        />
      </ul>
    </>
  );
}

function PoolEligibilityDiff({
  action,
  proposalId,
}: {
  action: Extract<Action, { kind: "SET_POOL_ELIGIBILITY" }>;
  proposalId: string;
}) {
  const allocations = useAllocations();
  const pool = allocations.data?.allocations.communityPool;
  const before = pool && pool.minVotesEnactedBy?.proposalId !== proposalId ? pool.minVotes : undefined;
  return (
    <>
      <h3>Who may use the community pool</h3>
      <ul class="diff">
        <Change
          label="voting power an address needs at the epoch's start (token wei; 0: everyone)"
          before={before === undefined ? undefined : tokens(before)}
          after={tokens(action.minVotes)}
        />
      </ul>
    </>
  );
}

/** One typed action in plain words, as a diff against what is in force. */
export function ActionDiff({ action, proposalId }: { action: Action; proposalId: string }) {
  switch (action.kind) {
    case "SET_MODEL_POLICY":
      return <ModelPolicyDiff action={action} proposalId={proposalId} />;
    case "SUSPEND_MODEL":
      return <SuspendDiff action={action} proposalId={proposalId} />;
    case "GRANT_ALLOCATION":
      return <GrantDiff action={action} proposalId={proposalId} />;
    case "REVOKE_ALLOCATION":
      return <RevokeDiff action={action} />;
    case "SET_COMMUNITY_POOL":
      return <PoolDiff action={action} proposalId={proposalId} />;
    case "SET_POOL_ELIGIBILITY":
      return <PoolEligibilityDiff action={action} proposalId={proposalId} />;
    case "UPDATE_GOVERNOR_SETTING":
      return (
        <>
          <h3>Change a governor setting</h3>
          <ul class="diff">
            <li>
              <span class="field">{words(action.setting)}</span> set to <ins>{tokens(action.value)}</ins>
            </li>
          </ul>
        </>
      );
    case "SET_GUARDIAN":
      return /^0x0{40}$/.test(action.guardian) ? (
        <>
          <h3>Remove the guardian</h3>
          <p>Nobody may cancel a proposal or suspend a model without a vote any more.</p>
        </>
      ) : (
        <>
          <h3>Appoint the guardian</h3>
          <p>
            <span class="address" title={action.guardian}>
              {shortAddress(action.guardian)}
            </span>{" "}
            becomes the guardian: it may cancel any proposal and suspend a model, without a vote, until the suspension
            lapses. Whoever was the guardian loses both powers.
          </p>
        </>
      );
    case "SET_GUARDIAN_SUSPENSION_PERIOD":
      return (
        <>
          <h3>How long a guardian's suspension lasts</h3>
          <ul class="diff">
            <li>
              <span class="field">a suspension by the guardian lapses after</span> <ins>{duration(action.period)}</ins>{" "}
              unless a vote confirms it
            </li>
          </ul>
        </>
      );
    case "UNKNOWN":
      return (
        <>
          <h3 class="warning">A call this app cannot read</h3>
          <p class="warning">It will run exactly as sent: read its raw call below before you vote.</p>
        </>
      );
  }
}
