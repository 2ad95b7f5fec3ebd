import t from "tap";
import { openDatabase } from "../../services/db/connection.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { createReadinessCheck, type Readiness } from "../../services/ops/readiness.ts";
import { loadConfig } from "../../services/shared/config.ts";
import { build } from "../helpers/app.ts";

let skewMs = 0;
const service = await build(t, { now: () => Date.now() + skewMs });
const base = service.urls.http;

t.test("/healthz answers while the process runs", async (t) => {
  const res = await fetch(`${base}/healthz`);
  t.equal(res.status, 200);
  t.same(await res.json(), { status: "ok" });
});

t.test("/readyz: migrated and the index within the staleness bound", async (t) => {
  const res = await fetch(`${base}/readyz`);
  t.equal(res.status, 200);
  const body = (await res.json()) as Readiness;
  t.equal(body.ready, true);
  t.equal(body.migrated, true);
  t.same(body.pendingMigrations, []);
  t.equal(body.index.stale, false);
  t.ok((body.index.indexedBlock ?? -1) >= service.deps.deployment.deployBlock, "the deployment is indexed");
});

t.test("/readyz answers 503 once the index heartbeat is older than MAX_POLICY_STALENESS_S", async (t) => {
  skewMs = (service.deps.config.MAX_POLICY_STALENESS_S + 5) * 1000;
  t.teardown(() => {
    skewMs = 0;
  });
  const res = await fetch(`${base}/readyz`);
  t.equal(res.status, 503);
  const body = (await res.json()) as Readiness;
  t.equal(body.ready, false);
  t.equal(body.migrated, true);
  t.equal(body.index.stale, true);
});

t.test("readiness lists the migrations a database has not applied", async (t) => {
  const database = await openDatabase({ url: await createTestDatabase(t) });
  t.teardown(() => database.close());
  const check = createReadinessCheck({ database, config: loadConfig({}), now: Date.now });
  const result = await check();
  t.equal(result.ready, false);
  t.equal(result.migrated, false);
  t.ok(result.pendingMigrations.includes("0001_index"), "the first migration is pending");
  t.equal(result.index.indexedBlock, null);
});

t.test("request ids: a caller's plain id is kept, anything else gets a generated one", async (t) => {
  const kept = await fetch(`${base}/healthz`, { headers: { "x-request-id": "trace-42.a" } });
  t.equal(kept.headers.get("x-request-id"), "trace-42.a");
  const replaced = await fetch(`${base}/healthz`, { headers: { "x-request-id": "no spaces or\ttabs allowed" } });
  t.match(replaced.headers.get("x-request-id"), /^req_[0-9a-f]{32}$/);
  const generated = await fetch(`${base}/healthz`);
  t.match(generated.headers.get("x-request-id"), /^req_[0-9a-f]{32}$/);
  t.not(generated.headers.get("x-request-id"), replaced.headers.get("x-request-id"));
});

t.test("/metrics: Prometheus text with the service's metrics", async (t) => {
  await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ syncStatus { indexedBlock } }" }),
  });
  await fetch(`${base}/v1/models`, { headers: { authorization: "Bearer not-a-key" } });
  const res = await fetch(`${base}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get("content-type"), /^text\/plain/);
  const text = await res.text();
  for (const name of [
    "commons_gateway_decisions_total",
    "commons_gateway_overhead_seconds",
    "commons_upstream_duration_seconds",
    "commons_ledger_writes_total",
    "commons_graphql_duration_seconds",
    "commons_rpc_errors_total",
    "commons_http_request_duration_seconds",
  ]) {
    t.match(text, new RegExp(`# TYPE ${name} `), `${name} is exported`);
  }
  t.match(text, /^commons_index_lag_blocks 0$/m, "the index is at the head");
  t.match(text, new RegExp(`^commons_indexed_block ${service.indexer.status().indexedBlock}$`, "m"));
  t.match(text, /^commons_indexer_leader 1$/m, "a lone replica leads");
  t.match(text, /commons_http_request_duration_seconds_count\{method="POST",route="\/graphql",status="200"\} 1/);
});

t.test("/deployment: the contract addresses, the chain's RPC URL and the deploy block's hash", async (t) => {
  const res = await fetch(`${base}/deployment`);
  t.equal(res.status, 200);
  const block = await service.deps.provider.getBlock(service.deps.deployment.deployBlock);
  t.same(await res.json(), {
    ...service.deps.deployment,
    rpcUrl: service.urls.rpc,
    deployBlockHash: block?.hash,
  });
});
