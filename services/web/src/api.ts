import { QueryClient } from "@tanstack/preact-query";
import type { Deployment } from "../../chain/contracts.ts";
import { createGraphqlClient, type GraphqlClient } from "../../cli/graphql-client.ts";
import { AppError } from "../../shared/errors.ts";

/** The service this page came from: GraphQL, the deployment and the gateway are all on its origin. */
export const serviceUrl = location.origin;

/** GraphQL as anyone (reads, drafts, relays); `withBearer` for calls that need an API key or the operator token. */
export const api: GraphqlClient = createGraphqlClient(serviceUrl);
export const withBearer = (token: string): GraphqlClient => createGraphqlClient(serviceUrl, { apiKey: token });

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      // A refusal (bad input, not found, unauthenticated) will not change by asking again.
      retry: (failures, error) => failures < 2 && !(error instanceof AppError && !error.retryable),
    },
  },
});

/** Chain id and contract addresses (GET /deployment): what the wallet must be on and talk to. */
export async function fetchDeployment(): Promise<Deployment> {
  let response: Response;
  try {
    response = await fetch(new URL("/deployment", serviceUrl));
  } catch (cause) {
    throw new AppError("UPSTREAM_ERROR", `cannot reach the service at ${serviceUrl}: is it running?`, { cause });
  }
  if (!response.ok) throw new AppError("UPSTREAM_ERROR", `GET /deployment answered ${response.status}`);
  return (await response.json()) as Deployment;
}

/** The development chain's JSON-RPC URL, when the service offers it to wallets that do not know the chain. */
export const publicRpcUrl =
  document.querySelector<HTMLMetaElement>('meta[name="commons-rpc-url"]')?.content ?? undefined;
