import { getBytes, hexlify, ZeroHash } from "ethers";
import { keccak256, keccak256Into } from "#keccak";

/**
 * A period's Merkle tree of receipt leaves, laid out exactly as `@openzeppelin/merkle-tree` lays out a
 * StandardMerkleTree (leaves sorted, stored from the end of one flat array, each node the keccak256 of its
 * children sorted), so the root and proofs are that library's and OpenZeppelin's MerkleProof.verify
 * accepts them. Built here on bytes because the library's hex-string tree builds about ten times slower
 * (bench/receipts.bench.ts); test/receipts/encoding.test.ts checks both give the same root and proofs.
 *
 * `nodes` is the flat array as one buffer (32 bytes a node): it is what Postgres stores for a period.
 */
export interface ReceiptTree {
  root: string;
  count: number;
  nodes: Uint8Array;
}

const NODE = 32;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < NODE; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

/** A period with no receipt still gets anchored (it says "no call"), with the zero root. */
export const EMPTY_ROOT = ZeroHash;

/** The tree of `leaves` (0x-hex, or 32 bytes each as leafBytes gives them). */
export function buildTree(leaves: readonly (string | Uint8Array)[]): ReceiptTree {
  const count = leaves.length;
  if (count === 0) return { root: EMPTY_ROOT, count, nodes: new Uint8Array(0) };
  const sorted = leaves.map((leaf) => (typeof leaf === "string" ? getBytes(leaf) : leaf)).sort(compareBytes);
  const size = 2 * count - 1;
  const nodes = new Uint8Array(size * NODE);
  sorted.forEach((leaf, i) => {
    nodes.set(leaf, (size - 1 - i) * NODE);
  });
  const pair = new Uint8Array(2 * NODE);
  for (let i = size - 1 - count; i >= 0; i--) {
    const left = nodes.subarray((2 * i + 1) * NODE, (2 * i + 2) * NODE);
    const right = nodes.subarray((2 * i + 2) * NODE, (2 * i + 3) * NODE);
    const [a, b] = compareBytes(left, right) <= 0 ? [left, right] : [right, left];
    pair.set(a, 0);
    pair.set(b, NODE);
    keccak256Into(pair, nodes, i * NODE);
  }
  return { root: hexlify(nodes.subarray(0, NODE)), count, nodes };
}

export function treeFromNodes(nodes: Uint8Array): ReceiptTree {
  if (nodes.length === 0) return { root: EMPTY_ROOT, count: 0, nodes };
  return { root: hexlify(nodes.subarray(0, NODE)), count: (nodes.length / NODE + 1) / 2, nodes };
}

/** Where a leaf is in the flat array, found by bisection over the sorted leaves; -1 when it is not a leaf. */
function nodeIndexOf(tree: ReceiptTree, leaf: string): number {
  const wanted = getBytes(leaf);
  const size = 2 * tree.count - 1;
  let low = 0;
  let high = tree.count - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const at = size - 1 - mid;
    const c = compareBytes(tree.nodes.subarray(at * NODE, (at + 1) * NODE), wanted);
    if (c === 0) return at;
    if (c < 0) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}

/** The proof of a leaf (siblings from the leaf up), or null when the leaf is not in the tree. */
export function proofOf(tree: ReceiptTree, leaf: string): string[] | null {
  let index = nodeIndexOf(tree, leaf);
  if (index < 0) return null;
  const proof: string[] = [];
  while (index > 0) {
    const sibling = index % 2 === 1 ? index + 1 : index - 1;
    proof.push(hexlify(tree.nodes.subarray(sibling * NODE, (sibling + 1) * NODE)));
    index = Math.floor((index - 1) / 2);
  }
  return proof;
}

/** The root a leaf and its proof lead to (OpenZeppelin's MerkleProof.processProof). */
export function processProof(leaf: string, proof: readonly string[]): string {
  let node = getBytes(leaf);
  const pair = new Uint8Array(2 * NODE);
  for (const sibling of proof) {
    const other = getBytes(sibling);
    const [a, b] = compareBytes(node, other) <= 0 ? [node, other] : [other, node];
    pair.set(a, 0);
    pair.set(b, NODE);
    node = keccak256(pair);
  }
  return hexlify(node);
}
