import { leafBytes, type PublicReceipt, type Receipt, receiptLeaf } from "./encoding.ts";
import { buildTree, processProof } from "./tree.ts";

/**
 * What a verification checked, in order. The first check that fails is named (clients branch on it):
 * - PROOF: the receipt's leaf and its proof lead to the period's root the service gave.
 * - ANCHOR: that root is the one anchored on chain for the period.
 * - COUNT, TOTAL_TOKENS, UNIQUE, ROOT: a whole period's public receipts are as many as anchored, charge the
 *   anchored total, appear once each (their sealed commitments differ: each has a salt of its own), and
 *   build the anchored root.
 */
export type ReceiptCheck = "PROOF" | "ANCHOR" | "COUNT" | "TOTAL_TOKENS" | "UNIQUE" | "ROOT";

export interface CheckResult {
  check: ReceiptCheck;
  ok: boolean;
  /** What was expected and what was found, for the CLI to print. */
  expected: string;
  actual: string;
}

export interface Verification {
  ok: boolean;
  /** The first failed check, or null. */
  failed: ReceiptCheck | null;
  checks: CheckResult[];
}

function verification(checks: CheckResult[]): Verification {
  const failed = checks.find((c) => !c.ok);
  return { ok: failed === undefined, failed: failed?.check ?? null, checks };
}

/** What the chain says of a period (UsageAnchor.anchors(period)). */
export interface Anchored {
  root: string;
  count: bigint;
  totalTokens: bigint;
}

/**
 * One whole receipt (its owner's or an operator's view, salt included) against its proof, the root the
 * service gave, and the root anchored on chain: the leaf is recomputed from the values, sealed part included,
 * so a receipt that verifies is the one whose consumer, request id and times it shows.
 */
export function verifyReceipt(input: {
  receipt: Receipt;
  proof: readonly string[];
  root: string;
  anchoredRoot: string;
}) {
  const leaf = receiptLeaf(input.receipt);
  const reached = processProof(leaf, input.proof);
  return verification([
    { check: "PROOF", ok: reached === input.root.toLowerCase(), expected: input.root, actual: reached },
    {
      check: "ANCHOR",
      ok: input.root.toLowerCase() === input.anchoredRoot.toLowerCase(),
      expected: input.anchoredRoot,
      actual: input.root,
    },
  ]);
}

/** A whole period's public receipts (its downloaded file) against what the chain anchored for it. */
export function verifyPeriod(receipts: readonly PublicReceipt[], anchored: Anchored): Verification {
  const total = receipts.reduce((sum, r) => sum + r.chargedTokens, 0n);
  const ids = new Set(receipts.map((r) => r.sealed.toLowerCase()));
  const root = buildTree(receipts.map(leafBytes)).root;
  return verification([
    {
      check: "COUNT",
      ok: BigInt(receipts.length) === anchored.count,
      expected: anchored.count.toString(),
      actual: String(receipts.length),
    },
    {
      check: "TOTAL_TOKENS",
      ok: total === anchored.totalTokens,
      expected: anchored.totalTokens.toString(),
      actual: total.toString(),
    },
    { check: "UNIQUE", ok: ids.size === receipts.length, expected: String(receipts.length), actual: String(ids.size) },
    { check: "ROOT", ok: root === anchored.root.toLowerCase(), expected: anchored.root, actual: root },
  ]);
}
