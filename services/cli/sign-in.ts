import type { BaseWallet } from "ethers";
import { SiweMessage } from "siwe";
import type { GraphqlClient } from "./graphql-client.ts";

export interface IssuedKey {
  id: string;
  key: string;
  prefix: string;
  address: string;
}

/**
 * Sign-In with Ethereum: asks the service for a nonce, signs an EIP-4361 message naming the service's
 * domain and chain, and trades it for an API key (shown this once).
 */
export async function signInForApiKey(
  client: GraphqlClient,
  serviceUrl: string,
  wallet: BaseWallet,
  label?: string,
): Promise<IssuedKey> {
  const { siweNonce } = await client.request<{ siweNonce: { nonce: string; domain: string; chainId: number } }>(
    "mutation { siweNonce { nonce domain chainId } }",
  );
  const message = new SiweMessage({
    domain: siweNonce.domain,
    address: wallet.address,
    statement: "Sign in to AI Commons for an API key.",
    uri: new URL(serviceUrl).origin,
    version: "1",
    chainId: siweNonce.chainId,
    nonce: siweNonce.nonce,
    issuedAt: new Date().toISOString(),
  }).prepareMessage();
  const signature = await wallet.signMessage(message);
  const { createApiKey } = await client.request<{ createApiKey: IssuedKey }>(
    `mutation ($message: String!, $signature: Bytes!, $label: String) {
      createApiKey(message: $message, signature: $signature, label: $label) { id key prefix address }
    }`,
    { message, signature, label: label ?? null },
  );
  return createApiKey;
}
