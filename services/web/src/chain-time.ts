import { useQuery } from "@tanstack/preact-query";
import { api } from "./api.ts";
import { graphql } from "./gql/gql.ts";

const CHAIN_TIME = graphql(`
  query WebChainTime { syncStatus { indexedBlockTime } }
`);

/**
 * "Now" for deadlines, in unix seconds: the chain's clock decides when voting ends, and a development
 * chain's clock may run ahead of the wall clock, so the later of the two.
 */
export function useChainNow(): number {
  const status = useQuery({
    queryKey: ["chain-time"],
    queryFn: () => api.request(CHAIN_TIME),
    refetchInterval: 15_000,
  });
  return Math.max(Math.floor(Date.now() / 1000), status.data?.syncStatus.indexedBlockTime ?? 0);
}
