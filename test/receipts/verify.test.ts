import fc from "fast-check";
import t from "tap";
import { publicReceiptOf, RECEIPT_FIELDS, type Receipt, receiptLeaf } from "../../services/receipts/encoding.ts";
import { buildTree, proofOf } from "../../services/receipts/tree.ts";
import { type Anchored, verifyPeriod, verifyReceipt } from "../../services/receipts/verify.ts";
import { receiptArb } from "./fixtures.ts";

const periodArb = fc.uniqueArray(receiptArb, { minLength: 2, maxLength: 30, selector: (r) => r.requestId });

/** A period's file: the public form of its receipts. */
const filed = (receipts: readonly Receipt[]) => receipts.map(publicReceiptOf);

function anchoredOf(receipts: Receipt[]): Anchored {
  return {
    root: buildTree(receipts.map(receiptLeaf)).root,
    count: BigInt(receipts.length),
    totalTokens: receipts.reduce((sum, r) => sum + r.chargedTokens, 0n),
  };
}

/** The receipt with one field changed to another valid value. */
function tamper(receipt: Receipt, field: (typeof RECEIPT_FIELDS)[number][0]): Receipt {
  const value = receipt[field];
  const changed =
    typeof value === "bigint"
      ? value === 0n
        ? 1n
        : value - 1n
      : typeof value === "boolean"
        ? !value
        : field === "consumer" || field === "salt" || field === "requestHash" || field === "responseHash"
          ? `${value.slice(0, -1)}${value.endsWith("0") ? "1" : "0"}`
          : `${value}x`;
  return { ...receipt, [field]: field === "consumer" ? changed.toString().toLowerCase() : changed };
}

t.test("an untouched period and each of its receipts verify", async (t) => {
  fc.assert(
    fc.property(periodArb, (receipts) => {
      const anchored = anchoredOf(receipts);
      const period = verifyPeriod(filed(receipts), anchored);
      t.equal(period.ok, true);
      t.equal(period.failed, null);
      const tree = buildTree(receipts.map(receiptLeaf));
      for (const receipt of receipts) {
        const proof = proofOf(tree, receiptLeaf(receipt)) ?? [];
        t.equal(verifyReceipt({ receipt, proof, root: tree.root, anchoredRoot: anchored.root }).ok, true);
      }
    }),
    { numRuns: 20 },
  );
});

t.test("changing any field of one receipt fails its proof, and the period's root", async (t) => {
  for (const [field] of RECEIPT_FIELDS) {
    fc.assert(
      fc.property(periodArb, fc.nat(), (receipts, pick) => {
        const i = pick % receipts.length;
        const anchored = anchoredOf(receipts);
        const tree = buildTree(receipts.map(receiptLeaf));
        const original = receipts[i] as Receipt;
        const proof = proofOf(tree, receiptLeaf(original)) ?? [];
        const forged = tamper(original, field);
        const one = verifyReceipt({ receipt: forged, proof, root: tree.root, anchoredRoot: anchored.root });
        t.equal(one.failed, "PROOF", `${field}: the receipt`);
        const period = receipts.map((r, j) => (j === i ? forged : r));
        const expected = field === "chargedTokens" ? "TOTAL_TOKENS" : "ROOT";
        t.equal(verifyPeriod(filed(period), anchored).failed, expected, `${field}: the period`);
      }),
      { numRuns: 5 },
    );
  }
});

t.test("dropping or adding a receipt fails the count; a duplicate fails uniqueness", async (t) => {
  fc.assert(
    fc.property(periodArb, receiptArb, fc.nat(), (receipts, extra, pick) => {
      const anchored = anchoredOf(receipts);
      const i = pick % receipts.length;
      t.equal(verifyPeriod(filed(receipts.toSpliced(i, 1)), anchored).failed, "COUNT");
      t.equal(verifyPeriod(filed([...receipts, extra]), anchored).failed, "COUNT");
      // Swapping one receipt for a copy of another keeps the count and (with equal charges) the total.
      const copy = { ...(receipts[(i + 1) % receipts.length] as Receipt) };
      const swapped = receipts.map((r, j) => (j === i ? { ...copy, chargedTokens: r.chargedTokens } : r));
      t.equal(verifyPeriod(filed(swapped), anchored).failed, "UNIQUE");
    }),
    { numRuns: 20 },
  );
});

t.test("a root the chain did not anchor fails the anchor check", async (t) => {
  const receipts = fc.sample(periodArb, 1)[0] as Receipt[];
  const tree = buildTree(receipts.map(receiptLeaf));
  const receipt = receipts[0] as Receipt;
  const proof = proofOf(tree, receiptLeaf(receipt)) ?? [];
  const other = buildTree(receipts.slice(1).map(receiptLeaf)).root;
  t.equal(verifyReceipt({ receipt, proof, root: tree.root, anchoredRoot: other }).failed, "ANCHOR");
});
