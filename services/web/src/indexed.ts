import { api, queryClient } from "./api.ts";
import { graphql } from "./gql/gql.ts";

const INDEXED_BLOCK = graphql(`
  query WebIndexedBlock { syncStatus { indexedBlock } }
`);

/**
 * After a transaction: waits (polling, up to 30 s) until the index has its block, then reads everything
 * again, so the page shows the change as soon as the service knows it. Resolves false if the index
 * stays behind; the page then updates when the live updates or the next read bring it.
 */
export async function refreshWhenIndexed(blockNumber: number): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  let indexed = false;
  while (!indexed && Date.now() < deadline) {
    indexed = (await api.request(INDEXED_BLOCK)).syncStatus.indexedBlock >= blockNumber;
    if (!indexed) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== "deployment" });
  return indexed;
}
