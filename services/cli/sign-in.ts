import { getAddress } from "ethers";
// viem's formatter, not siwe's: siwe is CommonJS and would bring a second copy of ethers into the web app.
import { createSiweMessage } from "viem/siwe";
import { graphql } from "./gql/gql.ts";
import type { CliCreateApiKeyMutation } from "./gql/graphql.ts";
import type { GraphqlClient } from "./graphql-client.ts";

export type IssuedKey = CliCreateApiKeyMutation["createApiKey"];

/** What signing in needs of a wallet: an ethers Wallet, or a browser wallet's JsonRpcSigner. */
export interface MessageSigner {
  address: string;
  signMessage(message: string): Promise<string>;
}

const SIWE_NONCE = graphql(`
  mutation CliSiweNonce { siweNonce { nonce domain chainId issuedAt } }
`);

const CREATE_API_KEY = graphql(`
  mutation CliCreateApiKey($message: String!, $signature: Bytes!, $label: String) {
    createApiKey(message: $message, signature: $signature, label: $label) { id key prefix address }
  }
`);

/**
 * Sign-In with Ethereum: asks the service for a nonce, signs an EIP-4361 message naming the service's
 * domain and chain, and trades it for an API key (shown this once).
 */
export async function signInForApiKey(
  client: GraphqlClient,
  serviceUrl: string,
  wallet: MessageSigner,
  label?: string,
): Promise<IssuedKey> {
  const { siweNonce } = await client.request(SIWE_NONCE);
  const message = createSiweMessage({
    domain: siweNonce.domain,
    address: getAddress(wallet.address) as `0x${string}`,
    statement: "Sign in to AI Commons for an API key.",
    uri: new URL(serviceUrl).origin,
    version: "1",
    chainId: siweNonce.chainId,
    nonce: siweNonce.nonce,
    // The service's clock, not this machine's: the service refuses messages issued in its future or long ago.
    issuedAt: new Date(siweNonce.issuedAt),
  });
  const signature = await wallet.signMessage(message);
  const { createApiKey } = await client.request(CREATE_API_KEY, { message, signature, label: label ?? null });
  return createApiKey;
}
