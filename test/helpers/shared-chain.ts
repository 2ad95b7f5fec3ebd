import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeDeployment } from "../../services/chain/deployment.ts";
import { type DevChain, startDevChain } from "../../services/runtime/dev-chain.ts";

type Teardown = { teardown(fn: () => unknown): void };

/**
 * One development chain for several replicas of the service, as a real chain behind RPC_URL: `env` holds
 * RPC_URL and DEPLOYMENT_FILE (in `folder`, a temporary folder the test may also use). Closed and
 * removed on teardown.
 */
export async function startSharedChain(
  t: Teardown,
): Promise<{ chain: DevChain; folder: string; env: { RPC_URL: string; DEPLOYMENT_FILE: string } }> {
  const chain = await startDevChain({ host: "127.0.0.1", port: 0 });
  t.teardown(() => chain.close());
  const folder = await mkdtemp(join(tmpdir(), "commons-replicas-"));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  const deploymentFile = join(folder, "deployment.json");
  writeDeployment(deploymentFile, chain.deployment);
  return { chain, folder, env: { RPC_URL: chain.rpcUrl, DEPLOYMENT_FILE: deploymentFile } };
}
