import { useMutation, useQuery } from "@tanstack/preact-query";
import { ZeroAddress } from "ethers";
import { useEffect, useState } from "preact/hooks";
import { useLocation, useSearchParams } from "wouter-preact";
import { send } from "../../../../cli/chain-actions.ts";
import { api } from "../../api.ts";
import { ImpactDiffView, ReplayView, SimulationView } from "../../components/impact.tsx";
import { usePageTitle } from "../../components/page-title.ts";
import { Problem } from "../../components/problem.tsx";
import { words } from "../../format.ts";
import { graphql } from "../../gql/gql.ts";
import { useWallet } from "../../wallet/wallet.tsx";
import { type ActionDraft, actionInput, checkDraft, type DraftKind, emptyDraft, kinds } from "./action-draft.ts";

const DRAFT_PROPOSAL = graphql(`
  mutation WebDraftProposal($input: DraftProposalInput!) {
    draftProposal(input: $input) { proposalId transaction { to data value } }
  }
`);

// Only the impact is read: the draft is bound to the zero address (drafts always bind a proposer), which no
// one can send it from; a preview needs no wallet, and the impact does not depend on who proposes.
const PREVIEW_IMPACT = graphql(`
  mutation WebPreviewImpact($input: DraftProposalInput!) {
    draftProposal(input: $input) {
      impact {
        diff { ...WebImpactDiff }
        simulation { ...WebImpactSimulation }
        replay { ...WebImpactReplay }
      }
    }
  }
`);

const POLICY_TO_EDIT = graphql(`
  query WebPolicyToEdit($model: String!) {
    policy(model: $model) {
      current { modelId approved maxTokensPerRequest requestsPerMinute allowedPurposes blockedTerms guidelineUri guidelineHash }
    }
  }
`);

function ActionForm({
  draft,
  index,
  onChange,
  onRemove,
  showErrors,
}: {
  draft: ActionDraft;
  index: number;
  showErrors: boolean;
  onChange: (draft: ActionDraft) => void;
  onRemove: (() => void) | undefined;
}) {
  const check = checkDraft(draft, index);
  const problem = showErrors || draft.edited ? check.problem : undefined;
  const spec = kinds[draft.kind];
  const idFor = (name: string) => `a${index}-${name}`;
  const set = (name: string, value: string) =>
    onChange({ ...draft, edited: true, values: { ...draft.values, [name]: value } });
  return (
    <fieldset class="action-form" data-testid={`action-${index}`}>
      <legend>Action {index + 1}</legend>
      <label>
        Kind{" "}
        <select
          value={draft.kind}
          onChange={(e) => onChange(emptyDraft((e.target as HTMLSelectElement).value as DraftKind))}
        >
          {(Object.keys(kinds) as DraftKind[]).map((k) => (
            <option key={k} value={k}>
              {kinds[k].label}
            </option>
          ))}
        </select>
      </label>
      {draft.kind === "SET_MODEL_POLICY" ? (
        <label class="choice">
          <input
            type="checkbox"
            checked={draft.approved}
            onChange={() => onChange({ ...draft, edited: true, approved: !draft.approved })}
          />{" "}
          Approved (unchecked: the model is registered but may not be used)
        </label>
      ) : null}
      {spec.fields.map((field) => {
        const invalid = problem?.field === field.name;
        const hintId = field.hint ? `${idFor(field.name)}-hint` : undefined;
        const errorId = invalid ? `${idFor(field.name)}-error` : undefined;
        const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
        return (
          <div class="field-row" key={field.name}>
            <label for={idFor(field.name)}>{field.label}</label>
            {field.type === "select" ? (
              <select
                id={idFor(field.name)}
                value={draft.values[field.name] ?? ""}
                onChange={(e) => set(field.name, (e.target as HTMLSelectElement).value)}
              >
                {field.options?.map((o) => (
                  <option key={o} value={o}>
                    {words(o)}
                  </option>
                ))}
              </select>
            ) : (
              <input
                id={idFor(field.name)}
                type={field.type === "datetime-local" ? "datetime-local" : "text"}
                inputMode={field.type === "number" ? "numeric" : undefined}
                value={draft.values[field.name] ?? ""}
                aria-invalid={invalid}
                aria-describedby={describedBy}
                onInput={(e) => set(field.name, (e.target as HTMLInputElement).value)}
              />
            )}
            {field.hint ? (
              <small id={hintId} class="muted">
                {field.hint}
              </small>
            ) : null}
            {invalid ? (
              <small id={errorId} class="field-error">
                {field.label} {problem?.message}
              </small>
            ) : null}
          </div>
        );
      })}
      {problem && !spec.fields.some((f) => f.name === problem.field) ? (
        <p class="field-error">{problem.message}</p>
      ) : null}
      {onRemove ? (
        <button type="button" class="link" onClick={onRemove}>
          Remove this action
        </button>
      ) : null}
    </fieldset>
  );
}

/** A proposal from forms checked as they are typed, drafted by the service, sent by the wallet. */
export function NewProposalPage() {
  usePageTitle("New proposal");
  const wallet = useWallet();
  const [, navigate] = useLocation();
  const [params] = useSearchParams();
  const editModel = params.get("model");
  const [description, setDescription] = useState("");
  const [drafts, setDrafts] = useState<ActionDraft[]>([emptyDraft("SET_MODEL_POLICY")]);
  const [touched, setTouched] = useState(false);

  // "Propose a change" on the Policies page opens the form with the policy in force.
  const policy = useQuery({
    queryKey: ["policy-to-edit", editModel],
    queryFn: () => api.request(POLICY_TO_EDIT, { model: editModel as string }),
    enabled: editModel !== null,
  });
  useEffect(() => {
    const current = policy.data?.policy?.current;
    if (!current) return;
    setDrafts([
      {
        kind: "SET_MODEL_POLICY",
        approved: current.approved,
        edited: true,
        values: {
          modelId: current.modelId,
          maxTokensPerRequest: String(current.maxTokensPerRequest),
          requestsPerMinute: String(current.requestsPerMinute),
          allowedPurposes: current.allowedPurposes.join(", "),
          blockedTerms: current.blockedTerms.join(", "),
          guidelineUri: current.guidelineUri,
          guidelineHash: current.guidelineHash,
        },
      },
    ]);
  }, [policy.data]);

  const checks = drafts.map((d, i) => checkDraft(d, i));
  const ready = description.trim() !== "" && checks.every((c) => c.action);

  const preview = useMutation({
    mutationFn: async () => {
      const actions = checks.map((c) => actionInput(c.action as NonNullable<typeof c.action>));
      const { draftProposal } = await api.request(PREVIEW_IMPACT, {
        input: { description, actions, proposer: ZeroAddress },
      });
      return draftProposal.impact;
    },
  });
  // A preview describes the form as it was: any edit makes it stale.
  const previewReset = preview.reset;
  useEffect(() => previewReset(), [description, drafts, previewReset]);

  const propose = useMutation({
    mutationFn: async () => {
      const signer = await wallet.signer();
      const actions = checks.map((c) => actionInput(c.action as NonNullable<typeof c.action>));
      const { draftProposal } = await api.request(DRAFT_PROPOSAL, {
        input: { description, actions, proposer: await signer.getAddress() },
      });
      const { to, data, value } = draftProposal.transaction;
      await send("proposing", () => signer.sendTransaction({ to, data, value: BigInt(value) }));
      return draftProposal.proposalId;
    },
    onSuccess: (id) => navigate(`/proposals/${id}`),
  });

  return (
    <>
      <h1>New proposal</h1>
      <p>
        Each action is checked as you type with the same rules the service drafts with. Your wallet sends the proposal;
        you need voting power above the threshold (delegate to yourself on the Delegates page).
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setTouched(true);
          if (ready) propose.mutate();
        }}
      >
        <label for="description">Title and description</label>
        <textarea
          id="description"
          rows={4}
          value={description}
          placeholder={"Approve demo-2 for education\n\nWhy this change helps the commons…"}
          aria-invalid={touched && description.trim() === ""}
          aria-describedby="description-hint"
          onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)}
        />
        <small id="description-hint" class="muted">
          The first line is the title.
        </small>
        {drafts.map((draft, i) => (
          <ActionForm
            key={`${i}-${draft.kind}`}
            draft={draft}
            index={i}
            onChange={(d) => setDrafts(drafts.map((old, j) => (j === i ? d : old)))}
            showErrors={touched}
            onRemove={drafts.length > 1 ? () => setDrafts(drafts.filter((_, j) => j !== i)) : undefined}
          />
        ))}
        <div class="buttons">
          <button
            type="button"
            class="secondary"
            onClick={() => setDrafts([...drafts, emptyDraft("SET_MODEL_POLICY")])}
          >
            Add an action
          </button>
          <button
            type="button"
            class="secondary"
            disabled={preview.isPending}
            onClick={() => {
              setTouched(true);
              if (ready) preview.mutate();
            }}
          >
            Preview what it will do
          </button>
          <button type="submit" disabled={propose.isPending}>
            Propose from my wallet
          </button>
        </div>
        {touched && !ready ? (
          <p class="field-error" role="alert">
            {description.trim() === "" ? "Write a title and description. " : ""}
            {checks.some((c) => c.problem) ? "Correct the fields marked above." : ""}
          </p>
        ) : null}
        {propose.isPending ? (
          <p role="status" aria-busy="true">
            Drafting through the service, then waiting for your wallet and the chain…
          </p>
        ) : null}
        <Problem error={propose.error} label="Proposing" />
        {preview.isPending ? (
          <p role="status" aria-busy="true">
            Comparing with the policies in force, executing it on a copy of the chain and deciding the last week's calls
            again…
          </p>
        ) : null}
        <Problem error={preview.error} label="Previewing" />
      </form>
      {preview.data ? (
        <section aria-labelledby="preview" data-testid="impact">
          <h2 id="preview">What it will do</h2>
          <ImpactDiffView diff={preview.data.diff} />
          <SimulationView simulation={preview.data.simulation} />
          <ReplayView replay={preview.data.replay} />
        </section>
      ) : null}
    </>
  );
}
