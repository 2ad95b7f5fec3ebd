import { useMutation } from "@tanstack/preact-query";
import { useState } from "preact/hooks";
import type { Deployment } from "../../../../chain/contracts.ts";
import {
  castVote,
  executeProposal,
  type ProposalCalls,
  queueProposal,
  type Support,
  signBallot,
} from "../../../../cli/chain-actions.ts";
import { api } from "../../api.ts";
import { Problem } from "../../components/problem.tsx";
import { dateTime, relative, words } from "../../format.ts";
import { graphql } from "../../gql/gql.ts";
import { refreshWhenIndexed } from "../../indexed.ts";
import { useWallet } from "../../wallet/wallet.tsx";

const CAST_VOTE_BY_SIG = graphql(`
  mutation WebCastVoteBySig($proposalId: BigInt!, $support: VoteSupport!, $voter: Address!, $signature: Bytes!, $reason: String) {
    castVoteBySig(proposalId: $proposalId, support: $support, voter: $voter, signature: $signature, reason: $reason)
  }
`);

export interface LifecycleProposal extends ProposalCalls {
  id: string;
  state: string;
  voteStart: number;
  eta: number | null;
}

/** What a person can do with the proposal in its state: vote (directly or gasless), queue, execute. */
export function LifecyclePanel({
  proposal,
  deployment,
  myVote,
  now,
}: {
  proposal: LifecycleProposal;
  deployment: Deployment;
  /** The connected account's vote, as indexed. */
  myVote: string | undefined;
  now: number;
}) {
  const wallet = useWallet();
  const [support, setSupport] = useState<Support>("FOR");
  const [reason, setReason] = useState("");
  const id = BigInt(proposal.id);
  const done = async (blockNumber: number, text: string) => {
    await refreshWhenIndexed(blockNumber);
    return text;
  };

  const vote = useMutation({
    mutationFn: async () => {
      const receipt = await castVote(deployment, await wallet.signer(), id, support, reason || undefined);
      return done(receipt.blockNumber, `Your ${words(support)} vote is in block ${receipt.blockNumber}.`);
    },
  });
  const voteBySig = useMutation({
    mutationFn: async () => {
      const signer = await wallet.signer();
      const signature = await signBallot(deployment, signer, id, support, reason || undefined);
      const { castVoteBySig: hash } = await api.request(CAST_VOTE_BY_SIG, {
        proposalId: proposal.id,
        support,
        voter: await signer.getAddress(),
        signature,
        reason: reason || null,
      });
      const receipt = await signer.provider.waitForTransaction(hash);
      return done(
        receipt?.blockNumber ?? 0,
        `The service relayed your signed ${words(support)} ballot; you paid no gas.`,
      );
    },
  });
  const queue = useMutation({
    mutationFn: async () => {
      const receipt = await queueProposal(deployment, await wallet.signer(), proposal);
      return done(receipt.blockNumber, `Queued in block ${receipt.blockNumber}.`);
    },
  });
  const execute = useMutation({
    mutationFn: async () => {
      const receipt = await executeProposal(deployment, await wallet.signer(), proposal);
      return done(receipt.blockNumber, `Executed in block ${receipt.blockNumber}: the change is in force.`);
    },
  });
  const all = [vote, voteBySig, queue, execute];
  const busy = all.some((m) => m.isPending);
  // Only the latest attempt's outcome is shown.
  const run = (m: (typeof all)[number]) => {
    for (const other of all) other.reset();
    m.mutate();
  };
  const last = all.find((m) => m.isSuccess || m.isError);

  return (
    <section class="panel" aria-labelledby="act">
      <h2 id="act">Take part</h2>
      {proposal.state === "PENDING" ? (
        <p>
          Voting opens {relative(proposal.voteStart, now * 1000)} ({dateTime(proposal.voteStart)}).
        </p>
      ) : null}
      {proposal.state === "ACTIVE" ? (
        <form onSubmit={(e) => e.preventDefault()}>
          {myVote ? (
            <p class="notice" data-testid="my-vote">
              You voted {words(myVote)}. The governor counts one vote per account and will refuse another.
            </p>
          ) : null}
          <fieldset>
            <legend>Your vote</legend>
            {(["FOR", "AGAINST", "ABSTAIN"] as const).map((s) => (
              <label key={s} class="choice">
                <input type="radio" name="support" value={s} checked={support === s} onChange={() => setSupport(s)} />{" "}
                {words(s)}
              </label>
            ))}
          </fieldset>
          <label>
            Reason (optional, public)
            <textarea rows={2} value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} />
          </label>
          <div class="buttons">
            <button type="button" disabled={busy} onClick={() => run(vote)}>
              Vote from my wallet
            </button>
            <button type="button" disabled={busy} onClick={() => run(voteBySig)}>
              Sign a gasless ballot
            </button>
          </div>
          <p class="muted">
            A gasless ballot is an EIP-712 signature the service relays (castVoteBySig): you pay no gas.
          </p>
        </form>
      ) : null}
      {proposal.state === "SUCCEEDED" ? (
        <div class="buttons">
          <p>The proposal passed. Anyone may queue it in the timelock.</p>
          <button type="button" disabled={busy} onClick={() => run(queue)}>
            Queue
          </button>
        </div>
      ) : null}
      {proposal.state === "QUEUED" ? (
        <div class="buttons">
          <p>
            Queued. Executable from{" "}
            {proposal.eta !== null
              ? `${dateTime(proposal.eta)} (${relative(proposal.eta, now * 1000)})`
              : "the timelock's delay"}
            ; anyone may execute it then.
          </p>
          <button type="button" disabled={busy} onClick={() => run(execute)}>
            Execute
          </button>
        </div>
      ) : null}
      {["EXECUTED", "DEFEATED", "CANCELED", "EXPIRED"].includes(proposal.state) ? (
        <p>This proposal is {words(proposal.state)}: nothing is left to do.</p>
      ) : null}
      {busy ? (
        <p role="status" aria-busy="true">
          Waiting for your wallet and the chain…
        </p>
      ) : null}
      {last?.isSuccess ? (
        <p role="status" class="success">
          {last.data}
        </p>
      ) : null}
      {last?.isError ? <Problem error={last.error} /> : null}
    </section>
  );
}
