import { Contract, JsonRpcProvider, Wallet } from "ethers";
import t from "tap";
import { loadArtifact } from "../../services/chain/artifacts.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { until } from "../../services/devkit/until.ts";
import type { Service } from "../../services/runtime/start-service.ts";
import { build } from "../helpers/app.ts";
import { startSharedChain } from "../helpers/shared-chain.ts";

// One chain and one Postgres, shared by two service instances, as two replicas behind a load balancer.
const { chain, env: chainEnv } = await startSharedChain(t);
const env = { ...chainEnv, DATABASE_URL: await createTestDatabase(t) };
const replicas = [await build(t, { env }), await build(t, { env })] as [Service, Service];

const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { cacheTimeout: -1 });
t.teardown(() => provider.destroy());

async function syncStatus(service: Service): Promise<{ indexedBlock: number; chainHead: number }> {
  const res = await fetch(service.urls.graphql, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ syncStatus { indexedBlock chainHead } }" }),
  });
  return ((await res.json()) as { data: { syncStatus: { indexedBlock: number; chainHead: number } } }).data.syncStatus;
}

async function leaderGauge(service: Service): Promise<number> {
  const text = await (await fetch(`${service.urls.http}/metrics`)).text();
  return Number(/^commons_indexer_leader (\d)$/m.exec(text)?.[1]);
}

/** A governance transaction (a holder re-delegating to itself), so that there is a new block to index. */
async function newBlock(): Promise<number> {
  const holder = new Wallet(chain.holders[1]?.privateKey as string, provider);
  const token = new Contract(chain.deployment.contracts.token, loadArtifact("token").abi, holder);
  const receipt = await (await token.getFunction("delegate")(holder.address)).wait();
  return receipt.blockNumber as number;
}

t.test("both replicas serve, and exactly one indexes", async (t) => {
  await until(
    async () => (replicas.filter((r) => r.indexer.status().leader).length === 1 ? true : undefined),
    "one replica to take the leader lock",
  );
  t.same(await Promise.all(replicas.map(leaderGauge)).then((g) => g.sort()), [0, 1], "one leader gauge is 1");

  const block = await newBlock();
  for (const replica of replicas) {
    t.equal((await fetch(`${replica.urls.http}/healthz`)).status, 200);
    await until(async () => ((await syncStatus(replica)).indexedBlock >= block ? true : undefined), "the new block");
    t.equal((await fetch(`${replica.urls.http}/readyz`)).status, 200, "ready: migrated, index fresh");
    const models = await fetch(`${replica.urls.gateway}/models`, { headers: { authorization: "Bearer sk-unknown" } });
    t.equal(
      ((await models.json()) as { error: { code: string } }).error.code,
      "INVALID_API_KEY",
      "the gateway answers on every replica",
    );
  }
  t.equal(replicas.filter((r) => r.indexer.status().leader).length, 1, "still exactly one leader");
});

t.test("when the leader stops, the other replica takes over indexing", async (t) => {
  const leader = replicas.find((r) => r.indexer.status().leader) as Service;
  const follower = replicas.find((r) => r !== leader) as Service;
  await leader.close();
  await until(async () => (follower.indexer.status().leader ? true : undefined), "the follower to lead");
  const block = await newBlock();
  await until(async () => ((await syncStatus(follower)).indexedBlock >= block ? true : undefined), "the new block");
  t.equal(follower.indexer.status().leader, true);
});
