import { duration, shortAddress, tokens, words } from "../format.ts";
import { graphql } from "../gql/gql.ts";
import type {
  WebImpactDiffFragment,
  WebImpactReplayFragment,
  WebImpactShadowFragment,
  WebImpactSimulationFragment,
} from "../gql/graphql.ts";

/*
 * A proposal's impact in words for a token holder: what changes, what executing it did on a fork of the
 * chain, what the audited calls of the last week would have got under it, and what shadow mode saw while it
 * was queued. The Proposal page (proposalImpact) and the New proposal page (draftProposal's impact) show it.
 */

graphql(`
  fragment WebImpactDiff on ImpactDiff {
    models { modelId change fields { field before after } }
    grants { grantId grantee modelId change fields { field before after } }
    communityPool { field before after }
    governor { field before after }
    guardian { field before after }
    unknownCalls
    problems { index error message }
  }
`);

graphql(`
  fragment WebImpactSimulation on ImpactSimulation {
    blockNumber executes gasUsed
    calls { index target status gasUsed error { name args } }
    warnings { subject field expected actual message }
  }
`);

graphql(`
  fragment WebImpactReplay on ImpactReplay {
    since until calls evaluated
    notEvaluable { reason calls explanation }
    newlyRefused newlyAdmitted consumersAffected estimatedCharges
    changes { from to calls consumers }
    budgets { budget tokensBefore tokensAfter change }
  }
`);

graphql(`
  fragment WebImpactShadow on ShadowObservation {
    queued since until calls failed changed newlyRefused newlyAdmitted consumersAffected tokensChange
    changes { from to calls consumers }
  }
`);

const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const signed = (n: number) => `${n > 0 ? "+" : n < 0 ? "−" : "±"}${decimal.format(Math.abs(n))}`;
const plural = (n: number, one: string, many = `${one}s`) => `${decimal.format(n)} ${n === 1 ? one : many}`;

/** "maxTokensPerRequest" and "VOTING_DELAY" as "max tokens per request" and "voting delay". */
export function fieldWords(field: string): string {
  return field.includes("_") ? words(field) : field.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
}

/** A diff value (lists come as JSON; null: none) in words. */
function valueWords(value: string | null): string {
  if (value === null) return "none";
  if (value.startsWith("[")) {
    const list = JSON.parse(value) as string[];
    return list.length === 0 ? "none" : list.join(", ");
  }
  return value;
}

/** ADMITTED, or the reason code of a refusal, in words. */
export function outcomeWords(outcome: string): string {
  return outcome === "ADMITTED" ? "admitted" : `refused (${words(outcome)})`;
}

function Fields({ fields }: { fields: { field: string; before: string | null; after: string | null }[] }) {
  return (
    <ul class="diff">
      {fields.map((f) => (
        <li key={f.field} data-testid="impact-field">
          <span class="field">{fieldWords(f.field)}</span>:{" "}
          {f.before === null ? <span class="muted">not set</span> : <del>{valueWords(f.before)}</del>}{" "}
          <span aria-hidden="true">→</span> <span class="visually-hidden">becomes</span>{" "}
          {f.after === null ? "none" : <ins>{valueWords(f.after)}</ins>}
        </li>
      ))}
    </ul>
  );
}

const changeWords = { NEW: "new", CHANGED: "changed", REVOKED: "revoked" } as const;

/** The guardian's fields in words: the zero address is no guardian, the period a duration. */
function guardianValue(field: string, value: string | null): string | null {
  if (value === null) return null;
  if (field === "suspensionPeriod") return duration(Number(value));
  return /^0x0{40}$/i.test(value) ? "no guardian" : value;
}

export function ImpactDiffView({ diff }: { diff: WebImpactDiffFragment }) {
  const nothing =
    diff.models.length +
      diff.grants.length +
      diff.communityPool.length +
      diff.governor.length +
      diff.guardian.length ===
      0 && diff.unknownCalls.length === 0;
  return (
    <div data-testid="impact-diff">
      <h3>Policies before → after</h3>
      {diff.problems.map((p) => (
        <p class="problem" role="alert" key={p.index} data-testid="impact-problem">
          ⚠ Call {p.index + 1} will be refused by the contracts ({p.error}: {p.message}), so the whole proposal would
          fail to execute.
        </p>
      ))}
      {nothing ? <p>It changes no model policy, grant, pool, governor setting or guardian.</p> : null}
      {diff.models.map((m) => (
        <div key={m.modelId} data-testid="impact-model">
          <h4>
            Model <code>{m.modelId}</code> ({changeWords[m.change]})
          </h4>
          <Fields fields={m.fields} />
        </div>
      ))}
      {diff.grants.map((g) => (
        <div key={g.grantId} data-testid="impact-grant">
          <h4>
            Grant #{g.grantId} to {shortAddress(g.grantee)}
            {g.modelId ? (
              <>
                {" "}
                for <code>{g.modelId}</code>
              </>
            ) : (
              " for any model"
            )}{" "}
            ({changeWords[g.change]})
          </h4>
          <Fields fields={g.fields} />
        </div>
      ))}
      {diff.communityPool.length > 0 ? (
        <div data-testid="impact-pool">
          <h4>Community pool</h4>
          <Fields fields={diff.communityPool} />
        </div>
      ) : null}
      {diff.governor.length > 0 ? (
        <div data-testid="impact-governor">
          <h4>Governor settings</h4>
          <Fields fields={diff.governor} />
        </div>
      ) : null}
      {diff.guardian.length > 0 ? (
        <div data-testid="impact-guardian">
          <h4>Guardian (emergency brake)</h4>
          <Fields
            fields={diff.guardian.map((f) => ({
              field: f.field === "suspensionPeriod" ? "suspension lapses after" : f.field,
              before: guardianValue(f.field, f.before),
              after: guardianValue(f.field, f.after),
            }))}
          />
        </div>
      ) : null}
      {diff.unknownCalls.length > 0 ? (
        <p class="notice warning">
          ⚠ {plural(diff.unknownCalls.length, "call")} ({diff.unknownCalls.map((i) => i + 1).join(", ")}) cannot be read
          by this service: their effect is not in this list.
        </p>
      ) : null}
    </div>
  );
}

export function SimulationView({ simulation }: { simulation: WebImpactSimulationFragment }) {
  const reverted = simulation.calls.find((c) => c.status === "REVERTED");
  return (
    <div data-testid="impact-simulation">
      <h3>Executed on a copy of the chain</h3>
      {simulation.executes ? (
        <p class="success" data-testid="simulation-outcome">
          ✓ Every call succeeds as the timelock would run it (copy of block {simulation.blockNumber}), using{" "}
          {tokens(simulation.gasUsed)} gas.
        </p>
      ) : (
        <p class="problem" role="alert" data-testid="simulation-outcome">
          ⚠ Executing it would fail: call {(reverted?.index ?? 0) + 1} reverts
          {reverted?.error ? ` with ${reverted.error.name}(${reverted.error.args.join(", ")})` : ""}, and the timelock
          undoes the whole batch (copy of block {simulation.blockNumber}).
        </p>
      )}
      <table>
        <caption>Calls</caption>
        <thead>
          <tr>
            <th scope="col">Call</th>
            <th scope="col">To</th>
            <th scope="col">Outcome</th>
            <th scope="col">Gas</th>
          </tr>
        </thead>
        <tbody>
          {simulation.calls.map((c) => (
            <tr key={c.index} data-testid="simulated-call">
              <td>{c.index + 1}</td>
              <td>
                <code>{shortAddress(c.target)}</code>
              </td>
              <td>
                {c.status === "SUCCEEDED" ? "succeeded" : c.status === "REVERTED" ? "reverted" : "not run"}
                {c.error ? ` (${c.error.name})` : ""}
              </td>
              <td>{c.gasUsed === null ? "–" : tokens(c.gasUsed)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {simulation.warnings.map((w) => (
        <p class="notice warning" role="alert" key={`${w.subject}-${w.field}`} data-testid="simulation-warning">
          ⚠ The chain disagrees with the list above: {w.subject}, {fieldWords(w.field)}: expected{" "}
          {valueWords(w.expected)}, the copy of the chain has {valueWords(w.actual)} ({w.message}).
        </p>
      ))}
    </div>
  );
}

function ChangesTable({
  changes,
  caption,
}: {
  changes: { from: string; to: string; calls: number; consumers: number }[];
  caption: string;
}) {
  if (changes.length === 0) return null;
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Was</th>
          <th scope="col">Would be</th>
          <th scope="col">Calls</th>
          <th scope="col">Consumers</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((c) => (
          <tr key={`${c.from}-${c.to}`} data-testid="outcome-change">
            <td>{outcomeWords(c.from)}</td>
            <td>{outcomeWords(c.to)}</td>
            <td>{decimal.format(c.calls)}</td>
            <td>{decimal.format(c.consumers)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const budgetWords = (budget: string) => (budget === "pool" ? "community pool" : budget.replace("grant:", "grant #"));

export function ReplayView({ replay }: { replay: WebImpactReplayFragment }) {
  const days = Math.round((replay.until - replay.since) / 86_400);
  const budgets = replay.budgets.filter((b) => b.change !== 0);
  return (
    <div data-testid="impact-replay">
      <h3>The last {plural(days, "day")} of calls, decided again</h3>
      <p data-testid="replay-summary">
        Of <strong>{plural(replay.calls, "audited call")}</strong>, {decimal.format(replay.evaluated)} could be decided
        again under the new policies: <strong>{decimal.format(replay.newlyRefused)} newly refused</strong>,{" "}
        <strong>{decimal.format(replay.newlyAdmitted)} newly admitted</strong>, affecting{" "}
        {plural(replay.consumersAffected, "consumer")}.
      </p>
      <ChangesTable changes={replay.changes} caption="Calls whose outcome would change" />
      {budgets.length > 0 ? (
        <table>
          <caption>Tokens charged per budget in the window</caption>
          <thead>
            <tr>
              <th scope="col">Budget</th>
              <th scope="col">Now</th>
              <th scope="col">After</th>
              <th scope="col">Change</th>
            </tr>
          </thead>
          <tbody>
            {budgets.map((b) => (
              <tr key={b.budget} data-testid="budget-change">
                <td>{budgetWords(b.budget)}</td>
                <td>{decimal.format(b.tokensBefore)}</td>
                <td>{decimal.format(b.tokensAfter)}</td>
                <td>{signed(b.change)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {replay.estimatedCharges > 0 ? (
        <p class="muted">
          {plural(replay.estimatedCharges, "call")} admitted only under the new policies are counted at what they would
          reserve: their real answers are unknown.
        </p>
      ) : null}
      {replay.notEvaluable.map((n) => (
        <p class="notice" key={n.reason} data-testid="not-evaluable">
          {plural(n.calls, "call")} could not be decided again ({words(n.reason)}): {n.explanation}.
        </p>
      ))}
    </div>
  );
}

export function ShadowView({ shadow }: { shadow: WebImpactShadowFragment }) {
  return (
    <div data-testid="impact-shadow">
      <h3>Live calls while it waits in the timelock</h3>
      {shadow.calls === 0 ? (
        <p>
          {shadow.queued
            ? "Queued: every call the service decides is now decided under this proposal too. None yet."
            : "Once queued, every call the service decides is also decided under this proposal, and counted here."}
        </p>
      ) : (
        <>
          <p data-testid="shadow-summary">
            {shadow.queued ? "Since it was queued" : "While it was queued"},{" "}
            <strong>{plural(shadow.calls, "call")}</strong> were also decided under it:{" "}
            <strong>{decimal.format(shadow.changed)} would change</strong> ({decimal.format(shadow.newlyRefused)} newly
            refused, {decimal.format(shadow.newlyAdmitted)} newly admitted), affecting{" "}
            {plural(shadow.consumersAffected, "consumer")}; tokens {signed(shadow.tokensChange)} (an estimate).
          </p>
          <ChangesTable changes={shadow.changes} caption="Live calls whose outcome would change" />
          {shadow.failed > 0 ? (
            <p class="notice warning">
              {plural(shadow.failed, "call")} could not be decided under it (their live decisions stood).
            </p>
          ) : null}
        </>
      )}
    </div>
  );
}
