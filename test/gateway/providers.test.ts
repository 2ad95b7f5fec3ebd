/**
 * Several upstream providers (UPSTREAMS): weighted picks, fallback to the next provider on a failure
 * before the first byte (refused connection, 5xx, silence), never after, and the provider that served
 * each call in its audit record. Every provider here is a real local server (or a closed port).
 */
import { Wallet } from "ethers";
import OpenAI from "openai";
import t, { type Test } from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import {
  refusingUpstreamUrl,
  STREAM_ERROR,
  startTestUpstream,
  type TestUpstream,
} from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { createWeightedPick } from "../../services/gateway/providers.ts";
import { loadConfig } from "../../services/shared/config.ts";

const consumer = Wallet.createRandom().address;
const database = await openMigrated(t, await createTestDatabase(t));
const { db } = database;
await seedIndex(database, {
  policies: [
    policyRow("m", { allowed_purposes: [], blocked_terms: [] }),
    policyRow("m-unserved", { allowed_purposes: [] }),
  ],
  grants: [{ grantId: 1, grantee: consumer, tokensPerEpoch: 100_000_000 }],
  pool: { allowancePerAddress: 0, poolSizePerEpoch: 0 },
});
const { key } = await issueApiKey(db, { address: consumer });

async function upstreams(t: Test, ...modes: ("serve" | "fail" | "hang")[]): Promise<TestUpstream[]> {
  const started = await Promise.all(modes.map((mode) => startTestUpstream(mode === "serve" ? {} : { always: mode })));
  t.teardown(() => Promise.all(started.map((u) => u.close())));
  return started;
}

/** A gateway whose providers are `providers` (as UPSTREAMS lists them), with a 300 ms upstream timeout. */
async function gateway(t: Test, providers: { name: string; url: string; weight?: number; models?: string[] }[]) {
  const gw = await buildGateway(t, {
    database,
    env: { UPSTREAMS: JSON.stringify(providers), UPSTREAM_TIMEOUT_MS: "300", MAX_POLICY_STALENESS_S: "3600" },
  });
  return { gw, client: gw.client(key) };
}

const ask = (content: string) => [{ role: "user" as const, content }];
const recordOf = (requestId: string | null) =>
  until(async () => {
    const d = await db
      .selectFrom("gateway_decisions")
      .selectAll()
      .where("request_id", "=", requestId ?? "")
      .executeTakeFirst();
    return d && d.outcome !== "PENDING" ? d : undefined;
  }, `call ${requestId} to be settled`);

for (const [failure, mode] of [
  ["refuses connections", null],
  ["answers 500", "fail"],
  ["never answers (silent before the first byte)", "hang"],
] as const) {
  t.test(`a provider that ${failure} is passed over for the next one`, async (t) => {
    const [bad, good] = await upstreams(t, mode ?? "serve", "serve");
    const badUrl = mode === null ? await refusingUpstreamUrl() : (bad as TestUpstream).url;
    // Equal weights: the picks alternate, so every other call tries the bad provider first.
    const { gw, client } = await gateway(t, [
      { name: "bad", url: badUrl },
      { name: "good", url: (good as TestUpstream).url },
    ]);
    for (let i = 0; i < 4; i++) {
      const { data, response } = await client.chat.completions
        .create({ model: "m", messages: ask(`call ${i}`), max_tokens: 3 })
        .withResponse();
      t.equal(data.usage?.completion_tokens, 3, `call ${i} answered`);
      t.match(await recordOf(response.headers.get("x-request-id")), { outcome: "COMPLETED", provider: "good" });
    }
    // A stream too, before its first byte.
    const stream = await client.responses.create({ model: "m", input: "stream", max_output_tokens: 3, stream: true });
    let completed = false;
    for await (const event of stream) completed ||= event.type === "response.incomplete";
    t.ok(completed, "a streamed call is served by the next provider");
    t.equal((good as TestUpstream).bodies.length, 5, "the good provider served every call");
    if (mode !== null)
      t.equal((bad as TestUpstream).bodies.length, 3, "the bad one was tried first on every other call");
    const metrics = await gw.metrics.registry.getSingleMetricAsString("commons_upstream_fallbacks_total");
    t.match(metrics, /commons_upstream_fallbacks_total\{provider="bad"\} 3/);
  });
}

t.test("when every provider fails, the call is UPSTREAM_ERROR and its reservation released", async (t) => {
  const [failing] = await upstreams(t, "fail");
  const { client } = await gateway(t, [
    { name: "down", url: await refusingUpstreamUrl(), weight: 2 },
    { name: "failing", url: (failing as TestUpstream).url },
  ]);
  const error = await client.chat.completions
    .create({ model: "m", messages: ask("anyone?"), max_tokens: 5 })
    .catch((e: unknown) => e);
  t.ok(error instanceof OpenAI.APIError);
  t.match(error, { status: 502, code: "UPSTREAM_ERROR" });
  const requestId = /req_[0-9a-f]{32}/.exec((error as Error).message)?.[0] ?? null;
  t.match(await recordOf(requestId), { outcome: "UPSTREAM_ERROR", tokens_used: 0, provider: "failing" });
  t.equal((failing as TestUpstream).bodies.length, 1, "each provider was tried once");
  await until(async () => {
    const c = await db
      .selectFrom("gateway_budget_counters")
      .selectAll()
      .where("account", "=", "grant:1")
      .executeTakeFirst();
    return c?.reserved === 0 ? c : undefined;
  }, "the reservation to be released");
});

t.test("a stream that already sent bytes is never tried on another provider", async (t) => {
  const [first, second] = await upstreams(t, "serve", "serve");
  const { client } = await gateway(t, [
    { name: "first", url: (first as TestUpstream).url, weight: 2 },
    { name: "second", url: (second as TestUpstream).url },
  ]);
  const stream = await client.chat.completions.create({
    model: "m",
    messages: ask(STREAM_ERROR),
    max_tokens: 50,
    stream: true,
  });
  const error = await (async () => {
    for await (const _ of stream);
  })().catch((e: unknown) => e);
  t.match(error, { code: "UPSTREAM_ERROR" });
  t.equal((first as TestUpstream).bodies.length, 1);
  t.equal((second as TestUpstream).bodies.length, 0, "the failure came after the first byte: no second try");
});

t.test("weights are respected over many calls", async (t) => {
  const [heavy, light] = await upstreams(t, "serve", "serve");
  const { client } = await gateway(t, [
    { name: "heavy", url: (heavy as TestUpstream).url, weight: 3 },
    { name: "light", url: (light as TestUpstream).url, weight: 1 },
  ]);
  const calls = 200;
  await Promise.all(
    Array.from({ length: calls }, (_, i) =>
      client.chat.completions.create({ model: "m", messages: ask(`call ${i}`), max_tokens: 1 }),
    ),
  );
  // Smooth weighted round-robin is exact over every run of 4 picks (3 + 1): no statistical slack needed.
  t.equal((heavy as TestUpstream).bodies.length, 150);
  t.equal((light as TestUpstream).bodies.length, 50);
  const picks = createWeightedPick();
  const order = Array.from(
    { length: 8 },
    () =>
      picks([
        { name: "a", weight: 5 },
        { name: "b", weight: 1 },
        { name: "c", weight: 1 },
      ]).name,
  );
  t.same(order.slice(0, 7), ["a", "a", "b", "a", "c", "a", "a"], "the picks are spread out, as nginx's are");
});

t.test("a model the policies approve but no provider serves is refused, with nothing reserved", async (t) => {
  const [only] = await upstreams(t, "serve");
  const { client } = await gateway(t, [{ name: "only", url: (only as TestUpstream).url, models: ["m"] }]);
  const error = await client.chat.completions
    .create(
      { model: "m-unserved", messages: ask("hi"), max_tokens: 1 },
      { headers: { "x-commons-purpose": "research" } },
    )
    .catch((e: unknown) => e);
  t.match(error, { status: 404, code: "MODEL_NOT_SERVED" });
  t.equal((only as TestUpstream).bodies.length, 0);
  const refusal = await db
    .selectFrom("gateway_decisions")
    .selectAll()
    .where("reason_code", "=", "MODEL_NOT_SERVED")
    .executeTakeFirstOrThrow();
  t.match(refusal, { admitted: false, outcome: "REFUSED", tokens_reserved: 0, model_id: "m-unserved" });
  const served = await client.chat.completions.create({ model: "m", messages: ask("hi"), max_tokens: 1 });
  t.equal(served.usage?.completion_tokens, 1, "the model it serves is served");
});

t.test("provider settings are checked when the service starts", async (t) => {
  const env = (upstreams: unknown, more: Record<string, string> = {}) => ({
    UPSTREAMS: JSON.stringify(upstreams),
    ...more,
  });
  const invalid = (value: Record<string, string>) => {
    try {
      loadConfig(value);
    } catch (error) {
      return error;
    }
    return "accepted";
  };
  const url = "http://127.0.0.1:1/v1";
  t.match(invalid(env([{ name: "a", url, apiKey: "sk-in-clear" }])), {
    code: "CONFIG_INVALID",
    message: /apiKey is not accepted.*apiKeyEnv/,
  });
  t.match(invalid(env([{ name: "a", url, apiKeyEnv: "NOT_SET_ANYWHERE" }])), {
    code: "CONFIG_INVALID",
    message: /NOT_SET_ANYWHERE is not set/,
  });
  t.match(
    invalid(
      env([
        { name: "a", url },
        { name: "a", url },
      ]),
    ),
    { message: /unique/ },
  );
  t.match(invalid(env([{ name: "A b", url }])), { message: /UPSTREAMS at 0\.name/ });
  t.match(invalid({ UPSTREAMS: "[", UPSTREAM_URL: url }), { message: /UPSTREAM_URL is one provider/ });
  t.match(invalid({ UPSTREAMS: "[" }), { message: /UPSTREAMS is not JSON/ });
  const config = loadConfig(env([{ name: "a", url, apiKeyEnv: "A_KEY", weight: 2, models: ["m"] }], { A_KEY: "sk-a" }));
  t.same(config.upstreams, [{ name: "a", url, apiKey: "sk-a", weight: 2, models: ["m"] }]);
  t.equal(loadConfig({}).upstreams, null, "none: UPSTREAM_URL or the development model");
});
