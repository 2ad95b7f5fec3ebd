import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import Fastify from "fastify";
import t from "tap";
import webPlugin, { appRoutes } from "../../services/web/plugin.ts";
import { build } from "../helpers/app.ts";

const dist = new URL("../../services/web/dist/", import.meta.url);

t.test("the service answers the app's index on every app route, and shadows no other route", async (t) => {
  const service = await build(t, { database: "pglite", env: { OPERATOR_TOKEN: "operator-token-for-tests" } });
  const url = (path: string) => new URL(path, service.urls.http);

  for (const path of [
    "/",
    "/proposals/123",
    "/new",
    "/delegates",
    "/delegates/0xabc",
    "/policies",
    "/policies/a%2Fb",
    "/my-ai",
    "/operator",
  ]) {
    const res = await fetch(url(path));
    t.equal(res.status, 200, `${path} answers`);
    t.match(res.headers.get("content-type"), /^text\/html/, `${path} is the app's index`);
    t.equal(res.headers.get("cache-control"), "no-cache", `${path}: the index is never cached, so a new build shows`);
    t.match(res.headers.get("content-security-policy"), /default-src 'self'/);
    const html = await res.text();
    t.match(html, /<div id="app">/);
    // The development chain's JSON-RPC is offered to wallets that do not know the chain.
    t.match(html, new RegExp(`<meta name="commons-rpc-url" content="${service.urls.rpc}">`));
  }

  const script = (await readdir(new URL("assets/", dist))).find((f) => f.endsWith(".js")) as string;
  const asset = await fetch(url(`/assets/${script}`));
  t.equal(asset.status, 200);
  t.match(asset.headers.get("content-type"), /javascript/);
  t.match(asset.headers.get("cache-control"), /immutable/, "hashed assets are cached for good");

  // Every other route is its plugin's, with its own answers and its own 404s.
  t.same(await (await fetch(url("/healthz"))).json(), { status: "ok" });
  const deployment = (await (await fetch(url("/deployment"))).json()) as { chainId: number };
  t.equal(deployment.chainId, service.deps.deployment.chainId);
  const graphql = await fetch(url("/graphql"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ syncStatus { lag } }" }),
  });
  t.equal(graphql.status, 200);
  const body = (await graphql.json()) as { data: { syncStatus: { lag: number } } };
  t.type(body.data.syncStatus.lag, "number");
  const gateway404 = await fetch(url("/v1/nothing-here"));
  t.equal(gateway404.status, 404);
  t.notMatch(gateway404.headers.get("content-type"), /text\/html/, "an unknown gateway route is not the app");
  const unknown = await fetch(url("/not-a-page"));
  t.equal(unknown.status, 404, "a path that is no page of the app is a 404");
  t.equal((await fetch(url("/assets/missing.js"))).status, 404);
});

t.test("without a build, the app's routes say how to build it", async (t) => {
  const empty = await mkdtemp(join(tmpdir(), "commons-web-"));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const app = Fastify();
  t.teardown(() => app.close());
  await app.register(webPlugin, { dist: pathToFileURL(`${empty}/`) });
  for (const path of appRoutes) {
    const res = await app.inject({ url: path.replace("*", "x") });
    t.equal(res.statusCode, 503, `${path} is unavailable`);
    t.match(res.body, /npm run build/, `${path} says what to do`);
  }
});
