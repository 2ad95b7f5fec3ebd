/**
 * An indexer in its own process, for tests that kill it: `npx tsx test/indexer/indexer-process.ts
 * <databaseUrl> <rpcUrl> <deploymentJson> <maxRange>`. Prints "leader" once it holds the lock,
 * "done" when it reached the head it saw at start, and then keeps following until killed.
 */
import { JsonRpcProvider } from "ethers";
import type { Deployment } from "../../services/chain/deployment.ts";
import { openDatabase } from "../../services/db/connection.ts";
import { createIndexer } from "../../services/indexer/indexer.ts";

const [url, rpcUrl, deploymentJson, maxRange] = process.argv.slice(2);
const deployment = JSON.parse(deploymentJson as string) as Deployment;
const provider = new JsonRpcProvider(rpcUrl, deployment.chainId, { staticNetwork: true });
const database = await openDatabase({ url: url as string, poolSize: 3 });
const indexer = createIndexer({
  database,
  provider,
  deployment,
  pollIntervalMs: 20,
  leaderIntervalMs: 200,
  maxRange: Number(maxRange),
});
await indexer.start();
const leading = setInterval(() => {
  if (indexer.status().leader) {
    console.log("leader");
    clearInterval(leading);
  }
}, 20);
await indexer.waitForBlock();
console.log("done");
