import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { type Log, ZeroAddress, ZeroHash } from "ethers";
import fc from "fast-check";
import t from "tap";
import { readAnchor, usageAnchorAbi, usageAnchorAt } from "../../services/chain/usage-anchor.ts";
import { createChain, GovernanceHelper, type Signer } from "../../services/devkit/chain.ts";
import { RECEIPT_TYPES, receiptLeaf, receiptValues } from "../../services/receipts/encoding.ts";
import { buildTree, proofOf } from "../../services/receipts/tree.ts";
import { receiptArb } from "../receipts/fixtures.ts";

const ANCHORER = 18;
const chain = await createChain({
  configure: (c) => ({ ...c, anchorer: "0xdD2FD4581271e230360230F9337D5c0430Bf44C0" }),
});
t.teardown(() => chain.close());
const anchorer = chain.signers[ANCHORER] as Signer;
const stranger = chain.signers[5] as Signer;
const anchor = (runner: Signer = anchorer) => usageAnchorAt(chain.deployment, runner);

/** The UsageAnchor error `pending` reverted with, decoded. */
async function revertOf(pending: Promise<unknown>) {
  try {
    await pending;
  } catch (error) {
    const e = error as { data?: string; info?: { error?: { data?: string } } };
    const parsed = usageAnchorAbi().parseError(e.data ?? e.info?.error?.data ?? "0x");
    if (!parsed) throw error;
    return { name: parsed.name, args: parsed.args.toArray(true) };
  }
  throw new Error("expected a revert");
}

t.test("the deployment publishes the anchor, owned by the timelock, with the configured anchorer", async (t) => {
  t.equal(anchorer.address, "0xdD2FD4581271e230360230F9337D5c0430Bf44C0");
  t.equal(await anchor().owner(), chain.deployment.contracts.timelock);
  t.equal(await anchor().anchorer(), anchorer.address);
});

t.test("only the anchorer anchors, each period once, and the view checks proofs with MerkleProof.verify", async (t) => {
  const receipts =
    fc.sample(fc.uniqueArray(receiptArb, { minLength: 5, maxLength: 5, selector: (r) => r.requestId }), 1)[0] ?? [];
  const tree = buildTree(receipts.map(receiptLeaf));
  const total = receipts.reduce((s, r) => s + r.chargedTokens, 0n);
  t.same(await revertOf(anchor(stranger).anchor(7, tree.root, 5, total, "uri")), {
    name: "UsageAnchorUnauthorized",
    args: [stranger.address, anchorer.address],
  });
  t.same(await revertOf(anchor().anchor(7, ZeroHash, 5, total, "uri")), {
    name: "UsageAnchorInvalidRoot",
    args: [7n, ZeroHash, 5n],
  });
  await (await anchor().anchor(7, tree.root, 5, total, "https://commons.example/receipts/7")).wait();
  const stored = await readAnchor(anchor(), 7);
  t.same(
    [stored.root, stored.count, stored.totalTokens, stored.uri],
    [tree.root, 5n, total, "https://commons.example/receipts/7"],
  );
  t.same(await revertOf(anchor().anchor(7, tree.root, 5, total, "again")), {
    name: "UsageAnchorAlreadyAnchored",
    args: [7n, tree.root],
  });
  const reference = StandardMerkleTree.of(receipts.map(receiptValues), RECEIPT_TYPES);
  for (const receipt of receipts) {
    const leaf = receiptLeaf(receipt);
    const proof = proofOf(tree, leaf) ?? [];
    t.equal(await anchor().verifyReceipt(7, leaf, proof), true, "on chain");
    t.ok(reference.verify(receiptValues(receipt), proof), "off chain, by the library");
    t.equal(await anchor().verifyReceipt(8, leaf, proof), false, "not in a period never anchored");
  }
  const forged = receiptLeaf({
    ...(receipts[0] as (typeof receipts)[number]),
    chargedTokens: 1n + (receipts[0]?.chargedTokens ?? 0n),
  });
  t.equal(await anchor().verifyReceipt(7, forged, proofOf(tree, receiptLeaf(receipts[0] as never)) ?? []), false);
});

t.test("governance replaces the anchorer; no one else can, and ownership is never renounced", async (t) => {
  t.same(await revertOf(anchor(stranger).setAnchorer(stranger.address)), {
    name: "OwnableUnauthorizedAccount",
    args: [stranger.address],
  });
  const calldata = usageAnchorAbi().encodeFunctionData("setAnchorer", [stranger.address]);
  const helper = new GovernanceHelper(chain, [
    { kind: "UNKNOWN", target: chain.deployment.usageAnchor as string, calldata },
  ]);
  const receipt = await helper.pass();
  const changed = ((receipt?.logs ?? []) as Log[])
    .map((log) => usageAnchorAbi().parseLog(log))
    .find((e) => e?.name === "AnchorerChanged");
  t.same(changed?.args.toArray(), [anchorer.address, stranger.address]);
  t.same(await revertOf(anchor().anchor(9, ZeroHash, 0, 0, "")), {
    name: "UsageAnchorUnauthorized",
    args: [anchorer.address, stranger.address],
  });
  await (await anchor(stranger).anchor(9, ZeroHash, 0, 0, "empty period")).wait();
  t.equal((await readAnchor(anchor(), 9)).count, 0n);
  t.not((await readAnchor(anchor(), 9)).anchoredAt, 0n);
  t.same(await revertOf(anchor(stranger).renounceOwnership()), {
    name: "UsageAnchorOwnershipNotRenounceable",
    args: [],
  });
  t.not(await anchor().anchorer(), ZeroAddress);
});
