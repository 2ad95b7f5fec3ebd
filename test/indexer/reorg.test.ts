import fc from "fast-check";
import type { Kysely } from "kysely";
import t from "tap";
import type { Database } from "../../services/db/schema.ts";
import { type Chain, createChain } from "../../services/devkit/chain.ts";
import { untilTrue } from "../../services/devkit/until.ts";
import { compareWithChain } from "./compare-with-chain.ts";
import { freshIndexRows, indexRows, migratedDatabase, startIndexer } from "./fixture.ts";
import { playHistory, type Step, stepArb } from "./history.ts";

const histories = (length: number, seed: number) =>
  fc.sample(fc.array(stepArb, { minLength: length, maxLength: length }), { numRuns: 1, seed })[0] as Step[];

/** Polls until the index stands on the chain's current head block (same number and same hash). */
async function indexedHead(db: Kysely<Database>, chain: Chain) {
  const head = await chain.provider.getBlock("latest");
  await untilTrue(async () => {
    const cp = await db.selectFrom("indexer_checkpoint").selectAll().executeTakeFirst();
    return cp?.block_number === head?.number && cp?.block_hash === head?.hash;
  }, `the index to stand on block ${head?.number} (${head?.hash})`);
}

t.test("blocks the indexer has seen are replaced: the index equals a fresh index of the final chain", async (t) => {
  const chain = await createChain();
  t.teardown(() => chain.close());
  const { database } = await migratedDatabase(t);
  const indexer = startIndexer(t, database, chain);
  await playHistory(chain, histories(15, 21));
  await indexedHead(database.db, chain);

  // The replacing branch is shorter than the one the indexer followed.
  const before = await chain.provider.send("evm_snapshot", []);
  await playHistory(chain, histories(25, 22));
  await indexedHead(database.db, chain);
  const replacedHead = await chain.provider.getBlockNumber();
  await chain.provider.send("evm_revert", [before]);
  await playHistory(chain, histories(6, 23));
  t.ok((await chain.provider.getBlockNumber()) < replacedHead, "the new branch is shorter");
  await indexedHead(database.db, chain);
  t.same(await indexRows(database.db), await freshIndexRows(t, chain), "after a shorter branch");
  t.same((await compareWithChain(database.db, chain)).diffs, [], "and agrees with the contracts");

  // The replacing branch is longer.
  const again = await chain.provider.send("evm_snapshot", []);
  await playHistory(chain, histories(6, 24));
  await indexedHead(database.db, chain);
  await chain.provider.send("evm_revert", [again]);
  await playHistory(chain, histories(25, 25));
  await indexedHead(database.db, chain);
  t.same(await indexRows(database.db), await freshIndexRows(t, chain), "after a longer branch");
  t.same((await compareWithChain(database.db, chain)).diffs, [], "and agrees with the contracts");
  t.equal(indexer.status().lastError, null);
});
