import { type Client, createClient } from "graphql-ws";
import { useEffect, useState } from "preact/hooks";
import type { TypedDocument } from "../../cli/graphql-client.ts";
import { queryClient, serviceUrl } from "./api.ts";
import { graphql } from "./gql/gql.ts";

const PROPOSAL_UPDATED = graphql(`
  subscription WebProposalUpdated { proposalUpdated { id state } }
`);

const VOTE_CAST = graphql(`
  subscription WebVoteCast { voteCast { proposalId voter } }
`);

export type LiveStatus = "connecting" | "live" | "reconnecting";

/**
 * GraphQL subscriptions (graphql-transport-ws, the protocol mercurius speaks on /graphql): a new
 * proposal, a state change or a vote refreshes what the page shows, without a reload.
 */
export function useLiveUpdates(): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>("connecting");
  useEffect(() => {
    const client = createClient({
      url: `${serviceUrl.replace(/^http/, "ws")}/graphql`,
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => true,
      on: { connected: () => setStatus("live"), closed: () => setStatus("reconnecting") },
    });
    // A vote moves tallies and delegates' participation; an execution changes policies and allocations:
    // everything read from the index is read again (the deployment never changes).
    const refresh = () => void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== "deployment" });
    const onError = () => setStatus("reconnecting");
    const stops = [listen(client, PROPOSAL_UPDATED, refresh, onError), listen(client, VOTE_CAST, refresh, onError)];
    return () => {
      for (const stop of stops) stop();
      void client.dispose();
    };
  }, []);
  return status;
}

function listen<TResult, TVariables>(
  client: Client,
  document: TypedDocument<TResult, TVariables>,
  onData: (data: TResult) => void,
  onError: () => void,
): () => void {
  return client.subscribe<TResult>(
    { query: document.toString() },
    { next: ({ data }) => data && onData(data), error: onError, complete: () => undefined },
  );
}
