/**
 * RPC providers put their API key in the URL's path or query. When the endpoint fails, ethers writes the
 * request URL into its error; none of it may reach /readyz, syncStatus or a log line.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import t from "tap";
import { writeDeployment } from "../../services/chain/deployment.ts";
import { until } from "../../services/devkit/until.ts";
import { startDevChain } from "../../services/runtime/dev-chain.ts";
import { createLogger } from "../../services/shared/logger.ts";
import { build } from "../helpers/app.ts";
import { createRpcProxy } from "../helpers/rpc-proxy.ts";

const PATH_SECRET = "v3PathSecret0123456789";
const QUERY_SECRET = "QuerySecret9876543210";

const chain = await startDevChain({ host: "127.0.0.1", port: 0 });
t.teardown(() => chain.close());
const upstream = new URL(chain.rpcUrl);
const proxy = await createRpcProxy({
  send: async (method, params) => {
    const answer = await fetch(upstream, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const body = (await answer.json()) as { result?: unknown; error?: { message: string } };
    if (body.error) throw Object.assign(new Error(body.error.message), body.error);
    return body.result;
  },
  faults: ["500"],
});
t.teardown(() => proxy.close());

const folder = await mkdtemp(join(tmpdir(), "commons-secrets-"));
t.teardown(() => rm(folder, { recursive: true, force: true }));
const deploymentFile = join(folder, "deployment.json");
writeDeployment(deploymentFile, chain.deployment);

const lines: string[] = [];
const logger = createLogger(
  "info",
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  }),
);
const service = await build(t, {
  logger,
  env: {
    RPC_URL: `${proxy.url}/${PATH_SECRET}?apikey=${QUERY_SECRET}`,
    DEPLOYMENT_FILE: deploymentFile,
    OPERATOR_TOKEN: "operator-token-secret-0123456789",
  },
});

const leaks = (text: string) => [PATH_SECRET, QUERY_SECRET].filter((s) => text.includes(s));

t.test("a failing RPC endpoint's URL reaches no client and no log", async (t) => {
  await until(
    async () => ((await fetch(`${service.urls.http}/readyz`)).status === 200 ? true : undefined),
    "the index to be ready before the endpoint fails",
  );
  proxy.setFaultRate(1);
  const readyz = await until(async () => {
    const body = (await (await fetch(`${service.urls.http}/readyz`)).json()) as { index: { lastError: string | null } };
    return body.index.lastError ? body : undefined;
  }, "the indexer to record an RPC failure");
  t.match(readyz.index.lastError, /500/, "the failure is described");
  t.same(leaks(JSON.stringify(readyz)), [], "/readyz");

  const failing = await (
    await fetch(service.urls.graphql, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ syncStatus { chainHead lastError } }" }),
    })
  ).text();
  t.match(failing, /RPC_ERROR/);
  t.same(leaks(failing), [], "syncStatus while the endpoint fails");

  await until(async () => (lines.some((l) => l.includes("indexer step failed")) ? true : undefined), "a log line");
  t.same(leaks(lines.join("")), [], "logs");

  proxy.setFaultRate(0);
  const recovered = await until(async () => {
    const answer = (await (
      await fetch(service.urls.graphql, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ syncStatus { chainHead lastError } }" }),
      })
    ).json()) as { data: { syncStatus: { chainHead: number; lastError: string | null } } | null };
    return answer.data ? answer : undefined;
  }, "syncStatus to answer again");
  t.same(leaks(JSON.stringify(recovered)), [], "syncStatus once it answers");
  t.same(leaks(lines.join("")), [], "logs, at the end");
});
