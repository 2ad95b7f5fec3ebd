import fc from "fast-check";
import t from "tap";
import { createChain } from "../../services/devkit/chain.ts";
import { untilTrue } from "../../services/devkit/until.ts";
import { createRpcProxy } from "../helpers/rpc-proxy.ts";
import { freshIndexRows, indexRows, migratedDatabase } from "./fixture.ts";
import { playHistory, stepArb } from "./history.ts";
import { kill, spawnIndexer } from "./indexer-child.ts";

t.test("killing the indexer mid-range and restarting gives the rows of an uninterrupted run", async (t) => {
  const chain = await createChain();
  t.teardown(() => chain.close());
  const [steps] = fc.sample(fc.array(stepArb, { minLength: 40, maxLength: 40 }), { numRuns: 1, seed: 5 });
  await playHistory(chain, steps!);
  const head = await chain.provider.getBlockNumber();
  const proxy = await createRpcProxy({ send: (method, params) => chain.provider.send(method, params) });
  t.teardown(() => proxy.close());
  const { database, url } = await migratedDatabase(t);

  const random = fc.sample(fc.integer({ min: chain.deployment.deployBlock, max: head - 1 }), { numRuns: 3, seed: 9 });
  const interrupted: number[] = [];
  for (const killAt of random.sort((a, b) => a - b)) {
    const run = spawnIndexer(url as string, proxy.url, chain.deployment, 2);
    // Kill as soon as the checkpoint passes a random block: the process is then mid-way through its
    // next range (reading logs, or inside the range's transaction).
    await untilTrue(async () => {
      const row = await database.db.selectFrom("indexer_checkpoint").select("block_number").executeTakeFirst();
      return (row?.block_number ?? 0) >= killAt;
    }, `the checkpoint to pass block ${killAt}`);
    kill(run.child);
    t.equal(await run.exited, null, `the indexer died of the kill at block ${killAt}, not of its own accord`);
    const after = await database.db.selectFrom("indexer_checkpoint").select("block_number").executeTakeFirst();
    if ((after?.block_number ?? 0) < head) interrupted.push(after?.block_number ?? 0);
  }
  t.ok(interrupted.length > 0, `at least one kill left the catch-up unfinished (checkpoints ${interrupted})`);
  const last = spawnIndexer(url as string, proxy.url, chain.deployment, 2);
  await last.said("done");
  kill(last.child);
  await last.exited;

  const rows = await indexRows(database.db);
  t.ok(rows.votes.length + rows.account_history.length > 0, "the history left rows to compare");
  t.same(rows, await freshIndexRows(t, chain), "same rows as an uninterrupted index");
});
