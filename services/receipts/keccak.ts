/**
 * keccak256 (Ethereum's: Keccak with the original 0x01 padding, not SHA3-256's) for the receipts' hot loop:
 * the anchoring job hashes each receipt three or four times and each tree node once, and @noble/hashes'
 * keccak_256 (which ethers uses) spent most of a period's build in its generic permutation loop.
 * hash-wasm's WebAssembly Keccak does the same work several times faster (bench/receipts.bench.ts). The
 * service's `#keccak` (package.json "imports"); the web app, which checks one receipt at a time, has its
 * own on ethers' keccak256. One hasher serves every call: each runs to its end synchronously, so none
 * can interleave with another.
 */
import { createKeccak } from "hash-wasm";

const hasher = await createKeccak(256);

/** keccak256(data), written as 32 bytes into `out` at `at` (a tree's node array). */
export function keccak256Into(data: Uint8Array, out: Uint8Array, at: number): void {
  out.set(keccak256(data), at);
}

/** keccak256(data) as 32 new bytes. */
export function keccak256(data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest("binary");
}
