import { getBytes, keccak256 as keccakHex } from "ethers";

/**
 * The browser's `#keccak` (see package.json "imports"): a page checks one receipt at a time, a few dozen
 * hashes, so ethers' keccak256 (already in the bundle) serves, and hash-wasm's WebAssembly, which the
 * service needs for whole periods, stays out of the web app.
 */
export function keccak256(data: Uint8Array): Uint8Array {
  return getBytes(keccakHex(data));
}

export function keccak256Into(data: Uint8Array, out: Uint8Array, at: number): void {
  out.set(keccak256(data), at);
}
