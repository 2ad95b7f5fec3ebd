import { useMutation, useQuery } from "@tanstack/preact-query";
import { isAddress } from "ethers";
import { useState } from "preact/hooks";
import { Link } from "wouter-preact";
import { delegate } from "../../../../cli/chain-actions.ts";
import { api } from "../../api.ts";
import { usePageTitle } from "../../components/page-title.ts";
import { Problem } from "../../components/problem.tsx";
import { StateBadge } from "../../components/tally.tsx";
import { useDeployment } from "../../deployment.ts";
import { dateTime, percent, shortAddress, votes, words } from "../../format.ts";
import { graphql } from "../../gql/gql.ts";
import { refreshWhenIndexed } from "../../indexed.ts";
import { useWallet } from "../../wallet/wallet.tsx";
import { titleOf } from "../proposals/proposal-text.ts";

const DELEGATES = graphql(`
  query WebDelegates {
    delegates(first: 100) { totalCount edges { node { address votingPower delegators balance delegatesTo } } }
    proposals(first: 1) { totalCount }
  }
`);

const PARTICIPATION = graphql(`
  query WebParticipation($voter: Address!) { votes(first: 1, filter: { voter: $voter }) { totalCount } }
`);

const DELEGATE_VOTES = graphql(`
  query WebDelegateVotes($voter: Address!) {
    votes(first: 50, filter: { voter: $voter }) {
      totalCount
      edges { node { proposalId support weight reason blockTime proposal { description state } } }
    }
  }
`);

function useDelegates() {
  return useQuery({ queryKey: ["delegates"], queryFn: () => api.request(DELEGATES) });
}

function Participation({ voter, proposals }: { voter: string; proposals: number }) {
  const count = useQuery({
    queryKey: ["delegates", "participation", voter],
    queryFn: () => api.request(PARTICIPATION, { voter }),
  });
  const n = count.data?.votes.totalCount;
  if (n === undefined) return <span aria-busy="true">…</span>;
  return (
    <>
      {n} of {proposals} ({percent(BigInt(n), BigInt(proposals))})
    </>
  );
}

/** Delegate this wallet's votes to itself or to another address (the token's delegate()). */
function DelegateForm({ currentDelegate }: { currentDelegate: string | null | undefined }) {
  const wallet = useWallet();
  const deployment = useDeployment();
  const [to, setTo] = useState("");
  const delegation = useMutation({
    mutationFn: async (target: "self" | "other") => {
      const signer = await wallet.signer();
      if (!deployment.data) throw new Error("the deployment is not loaded yet");
      const address = target === "self" ? await signer.getAddress() : to.trim();
      const receipt = await delegate(deployment.data, signer, address);
      await refreshWhenIndexed(receipt.blockNumber);
      return `Your votes are delegated to ${address === wallet.connection?.address ? "yourself" : address} (block ${receipt.blockNumber}).`;
    },
  });
  const badAddress = to.trim() !== "" && !isAddress(to.trim());
  return (
    <section class="panel" aria-labelledby="delegate">
      <h2 id="delegate">Delegate your votes</h2>
      <p>
        Tokens vote only once delegated: to yourself, or to someone you trust to vote for you. You keep your tokens.
        {wallet.connection ? (
          <>
            {" "}
            Now:{" "}
            {currentDelegate
              ? currentDelegate === wallet.connection.address
                ? "to yourself"
                : `to ${currentDelegate}`
              : "not delegated"}
            .
          </>
        ) : null}
      </p>
      <div class="buttons">
        <button type="button" disabled={delegation.isPending} onClick={() => delegation.mutate("self")}>
          Delegate to myself
        </button>
      </div>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!badAddress && to.trim()) delegation.mutate("other");
        }}
      >
        <label for="delegate-to">Or to this address</label>
        <input
          id="delegate-to"
          value={to}
          placeholder="0x…"
          aria-invalid={badAddress}
          aria-describedby={badAddress ? "delegate-to-error" : undefined}
          onInput={(e) => setTo((e.target as HTMLInputElement).value)}
        />
        {badAddress ? (
          <small id="delegate-to-error" class="field-error">
            This is not an Ethereum address (0x and 40 hex digits, with a valid checksum).
          </small>
        ) : null}
        <button type="submit" disabled={delegation.isPending || badAddress || !to.trim()}>
          Delegate to this address
        </button>
      </form>
      {delegation.isPending ? <p role="status">Waiting for your wallet and the chain…</p> : null}
      {delegation.isSuccess ? (
        <p role="status" class="success">
          {delegation.data}
        </p>
      ) : null}
      <Problem error={delegation.error} label="Delegating" />
    </section>
  );
}

/** Who holds voting power, how many delegate to them, and how often they vote. */
export function DelegatesPage() {
  usePageTitle("Delegates");
  const wallet = useWallet();
  const delegates = useDelegates();
  const nodes = (delegates.data?.delegates.edges ?? []).map((e) => e.node);
  const total = nodes.reduce((sum, d) => sum + BigInt(d.votingPower), 0n);
  const proposals = delegates.data?.proposals.totalCount ?? 0;
  const me = nodes.find((d) => d.address === wallet.connection?.address);
  return (
    <>
      <h1>Delegates</h1>
      <DelegateForm currentDelegate={me?.delegatesTo} />
      <Problem error={delegates.error} label="Loading delegates" />
      {delegates.isPending ? <p aria-busy="true">Loading delegates…</p> : null}
      <table class="delegates">
        <caption>{delegates.data?.delegates.totalCount ?? "…"} delegates, by voting power</caption>
        <thead>
          <tr>
            <th scope="col">Delegate</th>
            <th scope="col">Voting power</th>
            <th scope="col">Share</th>
            <th scope="col">Delegators</th>
            <th scope="col">Voted on</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((d) => (
            <tr key={d.address} data-testid="delegate-row">
              <td>
                <Link href={`/delegates/${d.address}`}>{shortAddress(d.address)}</Link>
                {d.address === wallet.connection?.address ? " (you)" : ""}
              </td>
              <td>{votes(d.votingPower)}</td>
              <td>{percent(BigInt(d.votingPower), total)}</td>
              <td>{d.delegators}</td>
              <td>
                <Participation voter={d.address} proposals={proposals} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** One delegate: power, delegators, and every vote with its reason. */
export function DelegatePage({ address }: { address: string }) {
  usePageTitle(`Delegate ${shortAddress(address)}`);
  const valid = isAddress(address);
  const delegates = useDelegates();
  const history = useQuery({
    queryKey: ["delegates", "votes", address],
    queryFn: () => api.request(DELEGATE_VOTES, { voter: address }),
    enabled: valid,
  });
  if (!valid) {
    return (
      <>
        <h1>No such delegate</h1>
        <p>
          “{address}” is not an Ethereum address. <Link href="/delegates">See all delegates</Link>.
        </p>
      </>
    );
  }
  const d = delegates.data?.delegates.edges
    .map((e) => e.node)
    .find((n) => n.address.toLowerCase() === address.toLowerCase());
  const proposals = delegates.data?.proposals.totalCount ?? 0;
  const cast = history.data?.votes;
  return (
    <>
      <h1>
        Delegate <code class="break">{address}</code>
      </h1>
      <Problem error={delegates.error ?? history.error} label="Loading the delegate" />
      {d ? (
        <dl class="facts">
          <dt>Voting power</dt>
          <dd>{votes(d.votingPower)}</dd>
          <dt>Delegators</dt>
          <dd>{d.delegators}</dd>
          <dt>Own balance</dt>
          <dd>{votes(d.balance)}</dd>
          <dt>Delegates own tokens to</dt>
          <dd>{d.delegatesTo ? (d.delegatesTo === d.address ? "itself" : d.delegatesTo) : "nobody yet"}</dd>
          <dt>Participation</dt>
          <dd>
            voted on {cast?.totalCount ?? "…"} of {proposals} proposals
          </dd>
        </dl>
      ) : delegates.data ? (
        <p>This address has no voting power delegated to it.</p>
      ) : null}
      <h2>Votes</h2>
      {cast && cast.edges.length === 0 ? <p>No votes yet.</p> : null}
      <ul class="votes">
        {cast?.edges.map(({ node: v }) => (
          <li key={v.proposalId}>
            <span class={`support support-${v.support.toLowerCase()}`}>{words(v.support)}</span> on{" "}
            <Link href={`/proposals/${v.proposalId}`}>{titleOf(v.proposal.description)}</Link>{" "}
            <StateBadge state={v.proposal.state} /> with {votes(v.weight)}{" "}
            <span class="muted">({dateTime(v.blockTime)})</span>
            {v.reason ? <blockquote>{v.reason}</blockquote> : null}
          </li>
        ))}
      </ul>
    </>
  );
}
