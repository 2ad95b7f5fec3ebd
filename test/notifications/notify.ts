import { id, JsonRpcProvider } from "ethers";
import { contractInterface } from "../../services/chain/artifacts.ts";
import { castVote } from "../../services/cli/chain-actions.ts";
import type { Service } from "../../services/runtime/start-service.ts";
import { advanceTo, apiKeyFor, type BuildOptions, build, holderWallet } from "../helpers/app.ts";
import { startReceiver } from "./receiver.ts";

/** A GraphQL call to the service over HTTP, with an API key or the operator token. */
// biome-ignore lint/suspicious/noExplicitAny: answers are read field by field, as the test's query shapes them
export async function gql<T = Record<string, any>>(
  service: Service,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<{ data: T | null; errors?: { message: string; extensions: { code: string } }[] }> {
  const response = await fetch(service.urls.graphql, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as never;
}

export const CREATE = `mutation($input: SubscriptionInput!) {
  createSubscription(input: $input) { secret subscription { id owner channel target verified active eventTypes delegates } }
}`;

export const HEALTH = `{ notificationHealth { subscriptionId pending delivered dead lastError oldestPendingAt } }`;

/** Subscribes the key's address; returns the subscription id and its signing secret, failing on any error. */
export async function subscribe(
  service: Service,
  key: string,
  input: Record<string, unknown>,
): Promise<{ id: string; secret: string }> {
  const answer = await gql<{ createSubscription: { secret: string; subscription: { id: string } } }>(
    service,
    CREATE,
    { input },
    key,
  );
  if (!answer.data) throw new Error(`createSubscription failed: ${JSON.stringify(answer.errors)}`);
  return { id: answer.data.createSubscription.subscription.id, secret: answer.data.createSubscription.secret };
}

/**
 * A verifying receiver, a service built with `options`, and development holder 0's key subscribed there
 * to `proposal.created` by webhook, the receiver checking signatures with the subscription's secret.
 */
export async function subscribedReceiver(t: Parameters<typeof build>[0], options: BuildOptions) {
  const receiver = await startReceiver();
  t.teardown(receiver.close);
  const service = await build(t, options);
  const { key } = await apiKeyFor(service, 0);
  const sub = await subscribe(service, key, {
    channel: "WEBHOOK",
    target: receiver.url,
    eventTypes: ["proposal.created"],
  });
  receiver.secrets = [sub.secret];
  return { receiver, service, key, sub };
}

/** A model policy action for draftProposal. */
export function policyAction(modelId: string) {
  return {
    setModelPolicy: {
      modelId,
      approved: true,
      maxTokensPerRequest: 100,
      requestsPerMinute: 60,
      guidelineUri: `https://example.org/${modelId}`,
      guidelineHash: id(modelId),
    },
  };
}

/** Votes `support` on `proposalId` from development holder `holder` once voting is open, then lets the vote end. */
export async function voteAndEnd(service: Service, proposalId: string, holder: number, support: "FOR" | "AGAINST") {
  const provider = new JsonRpcProvider(service.urls.rpc, undefined, { cacheTimeout: -1, pollingInterval: 50 });
  try {
    const governor = contractInterface("governor");
    const read = async (fn: string) =>
      BigInt(
        governor.decodeFunctionResult(
          fn,
          await provider.call({
            to: service.deps.deployment.contracts.governor,
            data: governor.encodeFunctionData(fn, [BigInt(proposalId)]),
          }),
        )[0],
      );
    await advanceTo(provider, (await read("proposalSnapshot")) + 1n);
    await castVote(service.deps.deployment, holderWallet(service, holder, provider), BigInt(proposalId), support);
    await advanceTo(provider, (await read("proposalDeadline")) + 1n);
  } finally {
    provider.destroy();
  }
}
