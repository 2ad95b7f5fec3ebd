import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { AbiCoder, hexlify, keccak256 } from "ethers";
import fc from "fast-check";
import t from "tap";
import {
  encodeLeaf,
  encodeSealed,
  LEAF_FIELDS,
  publicReceiptFromJson,
  publicReceiptOf,
  publicReceiptToJson,
  RECEIPT_FIELDS,
  RECEIPT_TYPES,
  receiptFromJson,
  receiptLeaf,
  receiptToJson,
  receiptValues,
  SEALED_TYPES,
} from "../../services/receipts/encoding.ts";
import { buildTree, proofOf } from "../../services/receipts/tree.ts";
import { receiptArb } from "./fixtures.ts";

const abi = AbiCoder.defaultAbiCoder();

t.test("both parts are abi.encode of the documented types, and the leaf is StandardMerkleTree's", async (t) => {
  fc.assert(
    fc.property(receiptArb, (receipt) => {
      const sealedValues = ["salt", "requestId", "consumer", "budgetSource", "promptTokens", "completionTokens"]
        .concat(["decidedAt", "settledAt", "requestHash", "responseHash"])
        .map((name) => receipt[name as keyof typeof receipt]);
      const sealedEncoding = abi.encode(SEALED_TYPES, sealedValues);
      t.equal(hexlify(encodeSealed(receipt)), sealedEncoding);
      const open = publicReceiptOf(receipt);
      t.equal(open.sealed, keccak256(sealedEncoding), "sealed is the keccak256 of the sealed values");
      const values = receiptValues(receipt);
      t.equal(hexlify(encodeLeaf(open)), abi.encode(RECEIPT_TYPES, values));
      t.equal(receiptLeaf(receipt), StandardMerkleTree.of([values], RECEIPT_TYPES).leafHash(values));
    }),
    { numRuns: 200 },
  );
});

t.test("a receipt and its public form survive their JSON forms unchanged", async (t) => {
  fc.assert(
    fc.property(receiptArb, (receipt) => {
      t.same(receiptFromJson(JSON.parse(JSON.stringify(receiptToJson(receipt)))), receipt);
      const open = publicReceiptOf(receipt);
      t.same(publicReceiptFromJson(JSON.parse(JSON.stringify(publicReceiptToJson(open)))), open);
    }),
    { numRuns: 100 },
  );
});

t.test("the public form holds no consumer, request id, salt, time, budget or body hash", async (t) => {
  t.same(Object.keys(publicReceiptOf(fc.sample(receiptArb, 1)[0] as never)).sort(), LEAF_FIELDS.map(([n]) => n).sort());
  fc.assert(
    fc.property(receiptArb, (receipt) => {
      const text = JSON.stringify(publicReceiptToJson(publicReceiptOf(receipt))).toLowerCase();
      for (const value of [receipt.salt, receipt.requestId, receipt.requestHash, receipt.responseHash]) {
        t.notOk(text.includes(value.toLowerCase()), "not in the public form");
      }
      t.notOk(text.includes(receipt.consumer.slice(2).toLowerCase()), "no consumer");
    }),
    { numRuns: 50 },
  );
  t.equal(RECEIPT_FIELDS.length, 18, "the owner's receipt has every value and the salt");
});

t.test("the same call with another salt seals to another commitment", async (t) => {
  fc.assert(
    fc.property(receiptArb, receiptArb, (receipt, other) => {
      fc.pre(receipt.salt !== other.salt);
      t.not(publicReceiptOf(receipt).sealed, publicReceiptOf({ ...receipt, salt: other.salt }).sealed);
    }),
    { numRuns: 50 },
  );
});

t.test("the tree has the library's root and proofs (differential, on random receipts)", async (t) => {
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
