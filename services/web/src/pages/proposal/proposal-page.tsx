import { useQuery } from "@tanstack/preact-query";
import { Link } from "wouter-preact";
import { api } from "../../api.ts";
import { useChainNow } from "../../chain-time.ts";
import { lazyPage } from "../../components/lazy-page.tsx";
import { usePageTitle } from "../../components/page-title.ts";
import { Problem } from "../../components/problem.tsx";
import { StateBadge, Tally } from "../../components/tally.tsx";
import { useDeployment } from "../../deployment.ts";
import { dateTime, shortAddress, votes, words } from "../../format.ts";
import { graphql } from "../../gql/gql.ts";
import { useWallet } from "../../wallet/wallet.tsx";
import { descriptionText, titleOf } from "../proposals/proposal-text.ts";
import { timeLeft } from "../proposals/time-left.ts";
import { ActionDiff } from "./action-diff.tsx";
import { checkCalls } from "./check-calls.ts";
import { LifecyclePanel } from "./lifecycle-panel.tsx";
import { RawCalls } from "./raw-calls.tsx";
import { Timeline } from "./timeline.tsx";

/** Its own chunk, downloaded after the page is drawn: the page does not wait for a fork or a replay. */
const ImpactSection = lazyPage(
  () => import("./impact-section.tsx").then((m) => m.ImpactSection),
  "What the proposal will do",
);

/** The impact is measured against the policies in force: once executed (or dead) it says nothing. */
const impactStates = ["PENDING", "ACTIVE", "SUCCEEDED", "QUEUED"];

const PROPOSAL = graphql(`
  query WebProposal($id: BigInt!) {
    proposal(id: $id) {
      id proposer description descriptionHash state voteStart voteEnd eta
      targets values calldatas
      actions { kind }
      tally { for against abstain voteCount quorum quorumReached majorityFor }
      history { event blockNumber blockTime }
      votes(first: 100) {
        totalCount
        edges { node { voter support weight reason blockTime transactionHash } }
      }
    }
  }
`);

/** One proposal: what it changes in plain words, checked against its raw calls; the tally, timeline and votes. */
export function ProposalPage({ id }: { id: string }) {
  const valid = /^\d+$/.test(id);
  const proposal = useQuery({
    queryKey: ["proposal", id],
    queryFn: () => api.request(PROPOSAL, { id }),
    enabled: valid,
    // A proposal just sent appears once the indexer has its block; a pending, active, succeeded or queued
    // one changes state with the clock alone (no event), so it is read again every few seconds.
    refetchInterval: (q) => {
      const state = q.state.data?.proposal?.state;
      if (q.state.data && !q.state.data.proposal) return 1000;
      return state && ["PENDING", "ACTIVE", "SUCCEEDED", "QUEUED"].includes(state) ? 5000 : false;
    },
  });
  const deployment = useDeployment();
  const wallet = useWallet();
  const now = useChainNow();
  const p = proposal.data?.proposal;
  usePageTitle(p ? titleOf(p.description) : `Proposal ${id.slice(0, 10)}`);

  if (!valid) {
    return (
      <>
        <h1>No such proposal</h1>
        <p>
          A proposal id is a decimal number. <Link href="/">See all proposals</Link>.
        </p>
      </>
    );
  }
  if (proposal.error || deployment.error) {
    return (
      <>
        <h1>Proposal</h1>
        <Problem error={proposal.error ?? deployment.error} label="Loading the proposal" />
      </>
    );
  }
  if (!proposal.data || !deployment.data) return <p aria-busy="true">Loading the proposal…</p>;
  if (!p) {
    return (
      <>
        <h1>Proposal {id.slice(0, 10)}…</h1>
        <p role="status" aria-busy="true">
          Not in the index yet: if it was just proposed, it appears here within seconds.
        </p>
      </>
    );
  }
  const calls = checkCalls(deployment.data.contracts, p);
  const allExact = calls.every((c) => c.exact);
  const voteNodes = p.votes.edges.map((e) => e.node);
  const myVote = voteNodes.find((v) => v.voter === wallet.connection?.address)?.support;
  const [, ...body] = descriptionText(p.description).split("\n");

  return (
    <article>
      <h1>{titleOf(p.description)}</h1>
      <p class="meta">
        <StateBadge state={p.state} testId="proposal-state" /> · {timeLeft(p, now)} · proposed by{" "}
        <Link href={`/delegates/${p.proposer}`}>{shortAddress(p.proposer)}</Link> · id <code class="break">{p.id}</code>
      </p>
      {body.join("\n").trim() ? <p class="description">{body.join("\n").trim()}</p> : null}

      <section aria-labelledby="changes">
        <h2 id="changes">What it changes</h2>
        {allExact ? (
          <p class="success" data-testid="calldata-check">
            ✓ These words are exactly what will run: re-encoding them here gives the proposal's calldata byte for byte.
          </p>
        ) : (
          <p class="problem" role="alert" data-testid="calldata-check">
            ⚠ Some calls do not match their description: what will run differs from what is shown (or cannot be read).
            Read the raw calls before you vote.
          </p>
        )}
        <ol class="actions">
          {calls.map((c, i) => (
            <li key={`${i}-${c.calldata}`} class={c.exact ? "" : "mismatch"}>
              <ActionDiff action={c.action} proposalId={p.id} />
              {p.actions[i] && p.actions[i].kind !== c.action.kind ? (
                <p class="problem" role="alert">
                  The service describes this call as {words(p.actions[i].kind)}, but it reads as {words(c.action.kind)}.
                </p>
              ) : null}
              {!c.exact && c.action.kind !== "UNKNOWN" ? (
                <p class="problem">⚠ Re-encoding these words does not give this call's calldata.</p>
              ) : null}
            </li>
          ))}
        </ol>
        <RawCalls calls={calls} contracts={deployment.data.contracts} />
      </section>

      {impactStates.includes(p.state) ? <ImpactSection proposalId={p.id} state={p.state} /> : null}

      <section aria-labelledby="tally">
        <h2 id="tally">Votes</h2>
        <Tally tally={p.tally} />
      </section>

      <LifecyclePanel proposal={p} deployment={deployment.data} myVote={myVote} now={now} />

      <section aria-labelledby="timeline">
        <h2 id="timeline">Timeline</h2>
        <Timeline proposal={{ ...p, votes: voteNodes }} now={now} />
      </section>

      <section aria-labelledby="voters">
        <h2 id="voters">Voters ({p.votes.totalCount})</h2>
        {voteNodes.length === 0 ? <p>No votes yet.</p> : null}
        <ul class="votes">
          {voteNodes.map((v) => (
            <li key={v.voter} data-testid="vote">
              <Link href={`/delegates/${v.voter}`}>{shortAddress(v.voter)}</Link>{" "}
              <span class={`support support-${v.support.toLowerCase()}`}>{words(v.support)}</span> with{" "}
              {votes(v.weight)} <span class="muted">({dateTime(v.blockTime)})</span>
              {v.reason ? <blockquote>{v.reason}</blockquote> : null}
            </li>
          ))}
        </ul>
      </section>
    </article>
  );
}
