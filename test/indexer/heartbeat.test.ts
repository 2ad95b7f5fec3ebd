import t from "tap";
import { createChain } from "../../services/devkit/chain.ts";
import { until } from "../../services/devkit/until.ts";
import { readCheckpoint } from "../../services/indexer/checkpoint.ts";
import { migratedDatabase, startIndexer } from "./fixture.ts";

t.test("an indexer waiting at the head of an idle chain keeps its heartbeat current", async (t) => {
  const chain = await createChain();
  t.teardown(() => chain.close());
  const { database } = await migratedDatabase(t);
  const indexer = startIndexer(t, database, chain);
  const head = await chain.provider.getBlockNumber();
  await indexer.waitForBlock(head);
  const first = await readCheckpoint(database.db);
  t.ok(first, "the checkpoint exists once the index reached the head");
  // No block is mined from here on: only the heartbeat may move updated_at.
  const later = await until(async () => {
    const row = await readCheckpoint(database.db);
    return row && first && row.updated_at.getTime() > first.updated_at.getTime() ? row : undefined;
  }, "the heartbeat to move updated_at");
  t.equal(later?.block_number, head, "no new block was indexed");
  t.equal(later?.head_block, head, "the head seen is recorded");
  t.ok((later?.updated_at.getTime() ?? 0) > (first?.updated_at.getTime() ?? 0), "updated_at moved on");
  t.equal(await chain.provider.getBlockNumber(), head, "the chain stayed idle");
});

t.test("waiting for a block the chain never reaches fails with where the index stands", async (t) => {
  const chain = await createChain();
  t.teardown(() => chain.close());
  const { database } = await migratedDatabase(t);
  const indexer = startIndexer(t, database, chain);
  const head = await chain.provider.getBlockNumber();
  await indexer.waitForBlock(head);
  await t.rejects(indexer.waitForBlock(head + 1_000, 300), {
    code: "POLICY_STATE_STALE",
    message: `the index did not reach block ${head + 1_000} within 300 ms: it is at ${head}`,
  });
});
