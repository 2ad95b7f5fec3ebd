import { useInfiniteQuery } from "@tanstack/preact-query";
import { Link, useSearchParams } from "wouter-preact";
import { api } from "../../api.ts";
import { useChainNow } from "../../chain-time.ts";
import { LoadMore, nextCursor } from "../../components/load-more.tsx";
import { usePageTitle } from "../../components/page-title.ts";
import { Problem } from "../../components/problem.tsx";
import { StateBadge, Tally } from "../../components/tally.tsx";
import { words } from "../../format.ts";
import { graphql } from "../../gql/gql.ts";
import type { ProposalState } from "../../gql/graphql.ts";
import { titleOf } from "./proposal-text.ts";
import { timeLeft } from "./time-left.ts";

const PROPOSALS = graphql(`
  query WebProposals($first: Int, $after: String, $filter: ProposalFilter) {
    proposals(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id description state kinds voteStart voteEnd eta
          tally { for against abstain quorum quorumReached voteCount }
        }
      }
    }
  }
`);

const states: ProposalState[] = [
  "ACTIVE",
  "PENDING",
  "SUCCEEDED",
  "QUEUED",
  "EXECUTED",
  "DEFEATED",
  "CANCELED",
  "EXPIRED",
];

/** Proposals, newest first: filter by state (in the URL, so a filtered list is linkable) and search. */
export function ProposalsPage() {
  usePageTitle("Proposals");
  const [params, setParams] = useSearchParams();
  const now = useChainNow();
  const state = params.get("state") as ProposalState | null;
  const search = params.get("q") ?? "";
  const proposals = useInfiniteQuery({
    queryKey: ["proposals", state],
    queryFn: ({ pageParam }) =>
      api.request(PROPOSALS, { first: 50, after: pageParam ?? null, filter: state ? { state: [state] } : null }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => nextCursor(last.proposals),
  });
  const set = (key: string, value: string | null) =>
    setParams(
      (p) => {
        if (value) p.set(key, value);
        else p.delete(key);
        return p;
      },
      { replace: true },
    );
  const needle = search.trim().toLowerCase();
  const total = proposals.data?.pages[0]?.proposals.totalCount ?? 0;
  const nodes = (proposals.data?.pages ?? [])
    .flatMap((page) => page.proposals.edges.map((e) => e.node))
    .filter(
      (p) =>
        !needle ||
        p.description.toLowerCase().includes(needle) ||
        p.id.includes(needle) ||
        p.kinds.some((k) => words(k).includes(needle)),
    );

  return (
    <>
      <h1>Proposals</h1>
      <div class="filters">
        <fieldset>
          <legend>State</legend>
          <button type="button" aria-pressed={!state} onClick={() => set("state", null)}>
            All
          </button>
          {states.map((s) => (
            <button type="button" key={s} aria-pressed={state === s} onClick={() => set("state", s)}>
              {words(s)}
            </button>
          ))}
        </fieldset>
        <label class="search">
          Search{" "}
          <input
            type="search"
            value={search}
            placeholder="words in the description, an id, an action"
            onInput={(e) => set("q", (e.target as HTMLInputElement).value)}
          />
        </label>
      </div>
      <Problem error={proposals.error} label="Loading proposals" />
      {proposals.isPending ? <p aria-busy="true">Loading proposals…</p> : null}
      {proposals.data && nodes.length === 0 ? (
        <p>
          No proposals{state ? ` in state ${words(state)}` : ""}
          {needle ? ` matching “${search}”` : ""}. <Link href="/new">Make one</Link>.
        </p>
      ) : null}
      <ol class="cards" aria-label="Proposals">
        {nodes.map((p) => (
          <li key={p.id} class="card" data-testid="proposal-card">
            <h2>
              <Link href={`/proposals/${p.id}`}>{titleOf(p.description)}</Link>
            </h2>
            <p class="meta">
              <StateBadge state={p.state} /> {timeLeft(p, now)} · {p.kinds.map(words).join(", ")} · #{p.id.slice(0, 8)}…
            </p>
            <Tally tally={p.tally} />
          </li>
        ))}
      </ol>
      {proposals.hasNextPage ? (
        <p>
          {nodes.length} of {total} shown{needle ? " (the search reads the proposals loaded so far)" : ""}.{" "}
          <LoadMore pages={proposals} />
        </p>
      ) : null}
    </>
  );
}
