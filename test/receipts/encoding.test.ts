import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { AbiCoder, hexlify } from "ethers";
import fc from "fast-check";
import t from "tap";
import {
  encodeReceipt,
  RECEIPT_TYPES,
  receiptFromJson,
  receiptLeaf,
  receiptToJson,
  receiptValues,
} from "../../services/receipts/encoding.ts";
import { buildTree, proofOf } from "../../services/receipts/tree.ts";
import { receiptArb } from "./fixtures.ts";

t.test("the encoding is abi.encode of the documented types, and the leaf is StandardMerkleTree's", async (t) => {
  fc.assert(
    fc.property(receiptArb, (receipt) => {
      const values = receiptValues(receipt);
      t.equal(hexlify(encodeReceipt(receipt)), AbiCoder.defaultAbiCoder().encode(RECEIPT_TYPES, values));
      const tree = StandardMerkleTree.of([values], RECEIPT_TYPES);
      t.equal(receiptLeaf(receipt), tree.leafHash(values));
    }),
    { numRuns: 200 },
  );
});

t.test("a receipt survives its JSON form unchanged", async (t) => {
  fc.assert(
    fc.property(receiptArb, (receipt) => {
      t.same(receiptFromJson(JSON.parse(JSON.stringify(receiptToJson(receipt)))), receipt);
    }),
    { numRuns: 100 },
  );
});

t.test("the tree has the library's root and proofs", async (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(receiptArb, { minLength: 1, maxLength: 40, selector: (r) => r.requestId }),
      (receipts) => {
        const values = receipts.map(receiptValues);
        const reference = StandardMerkleTree.of(values, RECEIPT_TYPES);
        const tree = buildTree(receipts.map(receiptLeaf));
        t.equal(tree.root, reference.root);
        for (const [i, receipt] of receipts.entries()) {
          const proof = proofOf(tree, receiptLeaf(receipt));
          t.same(proof, reference.getProof(values[i] as unknown[]));
          t.ok(StandardMerkleTree.verify(tree.root, RECEIPT_TYPES, values[i] as unknown[], proof ?? []));
        }
      },
    ),
    { numRuns: 40 },
  );
});
