import { BrowserProvider, type Eip1193Provider, getAddress, type JsonRpcSigner } from "ethers";

/**
 * What the wallet needs of ethers, in a module of its own: it is imported dynamically when a wallet
 * connects, and only these pieces of ethers come with it.
 */
export function checksummed(address: string): string {
  return getAddress(address);
}

export function signerOf(provider: Eip1193Provider, chainId: number, address: string): Promise<JsonRpcSigner> {
  // A provider per use: after a network switch, ethers must not keep the old chain.
  return new BrowserProvider(provider, chainId).getSigner(address);
}
