/**
 * An anchorer in its own process, for tests that kill it: `node --import tsx anchorer-process.ts
 * <databaseUrl> <rpcUrl> <deploymentJson> <nowMs>`. It runs under leader election until killed, with its
 * clock fixed at nowMs.
 */
import { JsonRpcProvider } from "ethers";
import type { Deployment } from "../../services/chain/deployment.ts";
import { openDatabase } from "../../services/db/connection.ts";
import { anchorerOn } from "./fixture.ts";

const [url, rpcUrl, deploymentJson, nowMs] = process.argv.slice(2);
const deployment = JSON.parse(deploymentJson as string) as Deployment;
const provider = new JsonRpcProvider(rpcUrl, deployment.chainId, { staticNetwork: true, cacheTimeout: -1 });
const database = await openDatabase({ url: url as string, poolSize: 3 });
anchorerOn(database, provider, deployment, () => Number(nowMs)).start();
