import { spawn } from "node:child_process";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { Wallet } from "ethers";
import t, { type Test } from "tap";
import { readAnchor, usageAnchorAt } from "../../services/chain/usage-anchor.ts";
import type { DecisionRecord } from "../../services/db/gateway-decisions.ts";
import { periodRow } from "../../services/db/receipts.ts";
import { createChain, impersonate } from "../../services/devkit/chain.ts";
import { untilTrue } from "../../services/devkit/until.ts";
import { type AuditRecord, RECEIPT_TYPES, receiptOf, receiptValues } from "../../services/receipts/encoding.ts";
import { createRpcProxy } from "../helpers/rpc-proxy.ts";
import { migratedDatabase } from "../indexer/fixture.ts";
import { ANCHORER, anchorerOn, fillPeriod, PERIOD_MS } from "./fixture.ts";

const chain = await createChain({ configure: (c) => ({ ...c, anchorer: ANCHORER.address }) });
t.teardown(() => chain.close());
const anchor = usageAnchorAt(chain.deployment, chain.provider);
const after = (period: number) => () => (period + 1) * PERIOD_MS + 1;

/** The root a third party computes from the records with the library alone. */
function referenceRoot(records: DecisionRecord[]): string {
  const values = records.map((r) =>
    receiptValues(receiptOf({ completion_tokens: null, request_hash: null, response_hash: null, ...r } as AuditRecord)),
  );
  return StandardMerkleTree.of(values, RECEIPT_TYPES).root;
}

/** Every PeriodAnchored event of `period` on the canonical chain. */
const anchoredEvents = (period: number) => anchor.queryFilter(anchor.getEvent("PeriodAnchored")(period));

async function assertAnchoredOnce(t: Test, period: number, records: DecisionRecord[]) {
  const events = await anchoredEvents(period);
  t.equal(events.length, 1, "anchored exactly once");
  const onChain = await readAnchor(anchor, period);
  t.equal(onChain.root, referenceRoot(records), "with the root of its receipts");
  t.equal(onChain.count, BigInt(records.length));
  t.equal(onChain.totalTokens, BigInt(records.reduce((s, r) => s + Number(r.tokens_used), 0)));
}

t.test("a closed period is built, sent and anchored once; an open one waits", async (t) => {
  const { database } = await migratedDatabase(t);
  const period = 1_000;
  const records = await fillPeriod(database, period, 5);
  await fillPeriod(database, period + 1, 2);
  const anchorer = anchorerOn(database, chain.provider, chain.deployment, after(period));
  await anchorer.tick();
  await anchorer.tick();
  const row = await periodRow(database.db, period);
  t.equal(row?.state, "anchored");
  t.equal(row?.root, referenceRoot(records));
  t.equal(await periodRow(database.db, period + 1), undefined, "the next period is not closed");
  await anchorer.tick();
  await assertAnchoredOnce(t, period, records);
});

t.test("a transaction that fails on chain is sent again, and the period anchored once", async (t) => {
  const { database } = await migratedDatabase(t);
  const period = 2_000;
  const records = await fillPeriod(database, period, 3);
  const anchorer = anchorerOn(database, chain.provider, chain.deployment, after(period));
  const timelock = await impersonate(chain, chain.deployment.contracts.timelock);
  const stranger = Wallet.createRandom().address;
  await chain.provider.send("evm_setAutomine", [false]);
  try {
    await anchorer.tick(); // built, then sent: pending
    // Governance replaces the anchorer in the same block, ahead of the anchoring (a higher tip).
    await anchor.connect(timelock).getFunction("setAnchorer")(stranger, { maxPriorityFeePerGas: 10n ** 11n });
    await chain.mine();
  } finally {
    await chain.provider.send("evm_setAutomine", [true]);
  }
  const sent = await periodRow(database.db, period);
  const failed = await chain.provider.getTransactionReceipt(sent?.tx_hash as string);
  t.equal(failed?.status, 0, "the anchoring transaction was mined and reverted");
  await anchorer.tick();
  t.equal((await periodRow(database.db, period))?.state, "built", "back to built");
  await t.rejects(anchorer.tick(), "the anchorer cannot send while it is not the anchorer");
  t.equal((await periodRow(database.db, period))?.state, "built", "nothing was sent");
  await (await anchor.connect(timelock).getFunction("setAnchorer")(ANCHORER.address)).wait();
  await anchorer.tick();
  await anchorer.tick();
  t.equal((await periodRow(database.db, period))?.state, "anchored");
  await assertAnchoredOnce(t, period, records);
});

t.test("a reorg that drops the anchoring block sends the same transaction again", async (t) => {
  const { database } = await migratedDatabase(t);
  const period = 3_000;
  const records = await fillPeriod(database, period, 4);
  const anchorer = anchorerOn(database, chain.provider, chain.deployment, after(period));
  const snapshot = await chain.provider.send("evm_snapshot", []);
  await anchorer.tick();
  await anchorer.tick();
  const first = await periodRow(database.db, period);
  t.equal(first?.state, "anchored");
  await chain.provider.send("evm_revert", [snapshot]);
  await chain.mine(3); // another history, longer than the dropped one
  t.equal((await anchoredEvents(period)).length, 0, "the reorg dropped the anchor");
  await anchorer.tick(); // the block changed: back to sent
  t.equal((await periodRow(database.db, period))?.state, "sent");
  await anchorer.tick(); // unknown to the node: broadcast again
  await anchorer.tick();
  const again = await periodRow(database.db, period);
  t.equal(again?.state, "anchored");
  t.equal(again?.tx_hash, first?.tx_hash, "the same signed transaction");
  t.not(again?.block_hash, first?.block_hash);
  await assertAnchoredOnce(t, period, records);
});

/** The chain behind an HTTP proxy that never answers `held` (the anchorer's process hangs there until killed). */
async function holdingProxy(held: string) {
  return createRpcProxy({
    send: (method, params) =>
      method === held ? new Promise<never>(() => {}) : (chain.provider.send(method, params) as Promise<unknown>),
  });
}

for (const [held, state] of [
  ["eth_estimateGas", "built"],
  ["eth_sendRawTransaction", "sent"],
] as const) {
  t.test(
    `kill -9 with the period ${state} (held at ${held}): the next anchorer resumes it, anchored once`,
    async (t) => {
      const { database, url } = await migratedDatabase(t);
      const period = held === "eth_estimateGas" ? 4_000 : 5_000;
      const records = await fillPeriod(database, period, 6);
      const proxy = await holdingProxy(held);
      t.teardown(() => proxy.close());
      const script = new URL("./anchorer-process.ts", import.meta.url).pathname;
      const args = [url as string, proxy.url, JSON.stringify(chain.deployment), String(after(period)())];
      const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { stdio: "inherit" });
      const exited = new Promise((resolve) => child.on("exit", resolve));
      await untilTrue(async () => (await periodRow(database.db, period))?.state === state, `the period ${state}`);
      const built = await periodRow(database.db, period);
      child.kill("SIGKILL");
      await exited;
      t.equal((await anchoredEvents(period)).length, 0, "nothing reached the chain");
      const anchorer = anchorerOn(database, chain.provider, chain.deployment, after(period));
      await anchorer.tick();
      await anchorer.tick();
      const done = await periodRow(database.db, period);
      t.equal(done?.state, "anchored");
      t.equal(done?.root, built?.root, "the tree built before the crash");
      if (state === "sent") t.equal(done?.tx_hash, built?.tx_hash, "the transaction signed before the crash");
      await assertAnchoredOnce(t, period, records);
    },
  );
}
