import { JsonRpcProvider } from "ethers";
import fc from "fast-check";
import t from "tap";
import { createChain } from "../../services/devkit/chain.ts";
import { createRpcProxy, seededRandom } from "../helpers/rpc-proxy.ts";
import { freshIndexRows, indexRows, migratedDatabase, startIndexer } from "./fixture.ts";
import { playHistory, stepArb } from "./history.ts";

t.test("through an RPC that fails, stalls, drops and garbles, the index converges to the same rows", async (t) => {
  const chain = await createChain();
  t.teardown(() => chain.close());
  const [steps] = fc.sample(fc.array(stepArb, { minLength: 30, maxLength: 30 }), { numRuns: 1, seed: 3 });
  await playHistory(chain, steps!);

  const proxy = await createRpcProxy({
    send: (method, params) => chain.provider.send(method, params),
    faultRate: 0.3,
    maxLogRange: 4,
    random: seededRandom(11),
  });
  t.teardown(() => proxy.close());
  const provider = new JsonRpcProvider(proxy.url, chain.deployment.chainId, { staticNetwork: true });
  t.teardown(() => provider.destroy());

  const { database } = await migratedDatabase(t);
  const indexer = startIndexer(t, database, { provider, deployment: chain.deployment }, { maxRange: 64 });
  await indexer.waitForBlock(await chain.provider.getBlockNumber());
  await indexer.stop();

  const faulty = await indexRows(database.db);
  t.ok(faulty.proposals.length > 0 && faulty.account_history.length > 0, "the history left rows to compare");
  t.same(faulty, await freshIndexRows(t, chain), "same rows as an index built over a healthy RPC");
  t.ok(proxy.injected.rangeRefused > 0, "wide eth_getLogs spans were refused and the range shrank");
  for (const fault of ["429", "500", "delay", "drop", "malformed"] as const) {
    t.ok(proxy.injected[fault] > 0, `${fault} faults were injected (${proxy.injected[fault]})`);
  }
});
