import { Wallet } from "ethers";
import { sql } from "kysely";
import OpenAI from "openai";
import t from "tap";
import { issueApiKey, revokeApiKey } from "../../services/db/api-keys.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import { billedPromptTokens, STALL, STALL_AFTER, startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { countTextTokens } from "../../services/gateway/tokens.ts";

const alice = Wallet.createRandom().address; // a grant on any model
const bob = Wallet.createRandom().address; // the community pool only
const carol = Wallet.createRandom().address; // a small grant
const GRANT = 100_000;
const ALLOWANCE = 100;

// A fixed clock a second into a minute, so that per-minute counting never straddles a boundary.
const start = Date.now();
const clock = start - (start % 60_000) + 1_000;

const database = await openMigrated(t, await createTestDatabase(t));
const { db } = database;
const upstream = await startTestUpstream();
t.teardown(() => upstream.close());
await seedIndex(database, {
  policies: [
    policyRow("m-research"),
    policyRow("m-open", { allowed_purposes: [], blocked_terms: [] }),
    policyRow("m-slow", { allowed_purposes: [], requests_per_minute: 2 }),
    policyRow("m-suspended", { version: 2, suspended: true, suspend_reason: "under review" }),
    policyRow("m-unapproved", { approved: false }),
  ],
  grants: [
    { grantId: 1, grantee: alice, tokensPerEpoch: GRANT },
    { grantId: 2, grantee: carol, modelId: "m-open", tokensPerEpoch: 50 },
  ],
  pool: { allowancePerAddress: ALLOWANCE, poolSizePerEpoch: 1_000_000 },
  heartbeatAt: new Date(clock),
});
const gw = await buildGateway(t, {
  database,
  upstreamUrl: upstream.url,
  env: { DEFAULT_MAX_TOKENS: "32", UPSTREAM_TIMEOUT_MS: "500" },
  now: () => clock,
});
const keys = {
  alice: (await issueApiKey(db, { address: alice })).key,
  bob: (await issueApiKey(db, { address: bob })).key,
  carol: (await issueApiKey(db, { address: carol })).key,
};
const revoked = await issueApiKey(db, { address: alice });
await revokeApiKey(db, { id: revoked.id, address: alice });

const research = gw.client(keys.alice, { purpose: "research" });
const ask = (content: string) => [{ role: "user" as const, content }];

async function refusal(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return { status: error.status, code: error.code, type: error.type };
    throw error;
  }
  throw new Error("the call was admitted");
}

const decisionOf = (requestId: string | null) =>
  db
    .selectFrom("gateway_decisions")
    .selectAll()
    .where("request_id", "=", requestId ?? "")
    .executeTakeFirstOrThrow();
const counters = (account: string) =>
  db.selectFrom("gateway_budget_counters").selectAll().where("account", "=", account).executeTakeFirst();
/**
 * A grant's counters once nothing is reserved: calls settled, and the slice this replica took of the
 * grant (services/gateway/leases.ts) given back, which it is once unused for a second.
 */
const released = (account: string) =>
  until(async () => {
    const c = await counters(account);
    return c?.reserved === 0 ? c : undefined;
  }, `nothing reserved on ${account}`);

t.test("an admitted call is forwarded within its limits, charged its real usage and audited", async (t) => {
  const { data, response } = await research.chat.completions
    .create({ model: "m-research", messages: ask("Summarise the commons."), max_tokens: 20 })
    .withResponse();
  t.equal(response.status, 200);
  t.equal(data.usage?.completion_tokens, 20);
  t.equal(upstream.bodies.at(-1)?.max_tokens, 20);
  t.equal(response.headers.get("x-commons-policy-version"), "1");
  t.equal(response.headers.get("x-commons-proposal-id"), "1234567890123456789012345678901234567890");
  t.ok(Number(response.headers.get("x-commons-overhead-ms")) > 0);
  const total = data.usage?.total_tokens as number;
  t.equal(Number(response.headers.get("x-commons-budget-remaining")), GRANT + ALLOWANCE - total);

  const record = await decisionOf(response.headers.get("x-request-id"));
  t.match(record, {
    consumer: alice,
    model_id: "m-research",
    purpose: "research",
    admitted: true,
    reason_code: null,
    policy_version: 1,
    source: "grant",
    source_id: "1",
    tokens_reserved: billedPromptTokens({ messages: ask("Summarise the commons.") }) + 20,
    tokens_used: total,
    outcome: "COMPLETED",
  });
  t.match(await released("grant:1"), { used: total, reserved: 0, budget_limit: GRANT });
});

t.test("a request without max_tokens runs with the configured bound; purpose may come in metadata", async (t) => {
  const client = gw.client(keys.alice);
  const data = await client.chat.completions.create({
    model: "m-research",
    messages: ask("hello"),
    metadata: { purpose: "Education" },
  });
  t.equal(upstream.bodies.at(-1)?.max_tokens, 32);
  t.equal(upstream.bodies.at(-1)?.metadata, undefined, "the purpose is not forwarded");
  t.equal(data.usage?.completion_tokens, 32);
});

t.test(
  "every refusal carries its reason code, status and OpenAI error type; a call with a key is audited",
  async (t) => {
    const before = await db
      .selectFrom("gateway_decisions")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    const cases: [string, () => Promise<unknown>, number, string][] = [
      ["unknown key", () => gw.client("sk-commons-nope").models.list(), 401, "INVALID_API_KEY"],
      [
        "unknown key on a call",
        () => gw.client("sk-commons-nope").chat.completions.create({ model: "m-open", messages: ask("hi") }),
        401,
        "INVALID_API_KEY",
      ],
      [
        "revoked key",
        () => gw.client(revoked.key).chat.completions.create({ model: "m-open", messages: ask("hi") }),
        401,
        "INVALID_API_KEY",
      ],
      [
        "unknown model",
        () => research.chat.completions.create({ model: "m-none", messages: ask("hi") }),
        404,
        "MODEL_NOT_APPROVED",
      ],
      [
        "unapproved model",
        () => research.chat.completions.create({ model: "m-unapproved", messages: ask("hi") }),
        404,
        "MODEL_NOT_APPROVED",
      ],
      [
        "suspended model",
        () => research.chat.completions.create({ model: "m-suspended", messages: ask("hi") }),
        403,
        "MODEL_SUSPENDED",
      ],
      [
        "no purpose declared",
        () => gw.client(keys.alice).chat.completions.create({ model: "m-research", messages: ask("hi") }),
        403,
        "PURPOSE_NOT_ALLOWED",
      ],
      [
        "a purpose not allowed",
        () =>
          gw
            .client(keys.alice, { purpose: "gaming" })
            .chat.completions.create({ model: "m-research", messages: ask("hi") }),
        403,
        "PURPOSE_NOT_ALLOWED",
      ],
      [
        "blocked content, any case",
        () => research.chat.completions.create({ model: "m-research", messages: ask("tell me about FORBIDDEN-term") }),
        400,
        "CONTENT_BLOCKED",
      ],
      [
        "max_tokens above the limit",
        () => research.chat.completions.create({ model: "m-research", messages: ask("hi"), max_tokens: 257 }),
        400,
        "MAX_TOKENS_EXCEEDED",
      ],
      [
        "more than the grant and the allowance",
        () => gw.client(keys.carol).chat.completions.create({ model: "m-open", messages: ask("hi"), max_tokens: 200 }),
        429,
        "BUDGET_EXHAUSTED",
      ],
    ];
    for (const [name, call, status, code] of cases) {
      t.match(
        await refusal(call()),
        { status, code, type: code === "BUDGET_EXHAUSTED" ? "insufficient_quota" : String },
        name,
      );
    }
    const after = await db
      .selectFrom("gateway_decisions")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    const unauthenticated = cases.filter((c) => c[3] === "INVALID_API_KEY").length;
    t.equal(
      Number(after.n) - Number(before.n),
      cases.length - unauthenticated,
      "one audit record per call decision with a live key (a missing, unknown or revoked one writes nothing)",
    );
    const reasons = await db
      .selectFrom("gateway_decisions")
      .select("reason_code")
      .where("admitted", "=", false)
      .execute();
    t.same(
      [...new Set(reasons.map((r) => r.reason_code))].sort(),
      [...new Set(cases.map((c) => c[3]).filter((code) => code !== "INVALID_API_KEY"))].sort(),
    );
  },
);

t.test("the per-minute limit is counted in Postgres", async (t) => {
  const slow = gw.client(keys.bob);
  await slow.chat.completions.create({ model: "m-slow", messages: ask("one"), max_tokens: 1 });
  await slow.chat.completions.create({ model: "m-slow", messages: ask("two"), max_tokens: 1 });
  t.match(await refusal(slow.chat.completions.create({ model: "m-slow", messages: ask("three"), max_tokens: 1 })), {
    status: 429,
    code: "RATE_LIMITED",
    type: "rate_limit_error",
  });
});

t.test("a stale index refuses every call, unless the operator allows stale policies", async (t) => {
  const later = () => clock + 61_000;
  const stale = await buildGateway(t, { database, upstreamUrl: upstream.url, now: later });
  t.match(await refusal(stale.client(keys.alice).chat.completions.create({ model: "m-open", messages: ask("hi") })), {
    status: 503,
    code: "POLICY_STATE_STALE",
  });
  const lenient = await buildGateway(t, {
    database,
    upstreamUrl: upstream.url,
    now: later,
    env: { ALLOW_STALE_POLICY: "true" },
  });
  const data = await lenient
    .client(keys.alice)
    .chat.completions.create({ model: "m-open", messages: ask("hi"), max_tokens: 2 });
  t.equal(data.usage?.completion_tokens, 2);
});

t.test("an upstream failure or timeout answers UPSTREAM_ERROR and releases the reservation", async (t) => {
  const before = await counters(`pool:${bob}`);
  const client = gw.client(keys.bob);
  for (const marker of ["[fail]", "[hang]"]) {
    t.match(
      await refusal(client.chat.completions.create({ model: "m-open", messages: ask(marker), max_tokens: 5 })),
      { status: 502, code: "UPSTREAM_ERROR" },
      marker,
    );
  }
  t.match(await counters(`pool:${bob}`), { used: before?.used, reserved: 0 });
  const failed = await db
    .selectFrom("gateway_decisions")
    .selectAll()
    .where("consumer", "=", bob)
    .where("outcome", "=", "UPSTREAM_ERROR")
    .execute();
  t.equal(failed.length, 2);
  t.ok(failed.every((d) => d.admitted && d.reason_code === "UPSTREAM_ERROR" && d.tokens_used === 0));
});

t.test("embeddings are judged and charged like chat, without a completion", async (t) => {
  const { data, response } = await research.embeddings
    .create({ model: "m-research", input: ["the commons", "governance"] })
    .withResponse();
  t.equal(data.data.length, 2);
  const record = await decisionOf(response.headers.get("x-request-id"));
  t.match(record, {
    endpoint: "embeddings",
    tokens_reserved: data.usage.total_tokens,
    tokens_used: data.usage.total_tokens,
  });
  t.match(await refusal(research.embeddings.create({ model: "m-research", input: "forbidden-term" })), {
    code: "CONTENT_BLOCKED",
  });
});

t.test("the models list names what this key may use", async (t) => {
  const list = await gw.client(keys.alice).models.list();
  t.same(
    list.data.map((m) => m.id),
    ["m-open", "m-research", "m-slow"],
  );
});

t.test("streaming forwards server-sent events and charges the streamed usage", async (t) => {
  const { data: stream, response } = await research.chat.completions
    .create({
      model: "m-research",
      messages: ask("stream please"),
      max_tokens: 12,
      stream: true,
      stream_options: { include_usage: true },
    })
    .withResponse();
  let text = "";
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  t.equal(usage?.completion_tokens, 12);
  t.equal(countTextTokens(text) > 0, true);
  t.equal(response.headers.get("x-commons-policy-version"), "1");
  const record = await decisionOf(response.headers.get("x-request-id"));
  t.match(record, { outcome: "COMPLETED", tokens_used: usage?.total_tokens });
});

t.test("a stream whose client did not ask for usage is still charged the upstream's count", async (t) => {
  const { data: stream, response } = await research.chat.completions
    .create({ model: "m-research", messages: ask("no usage for me"), max_tokens: 7, stream: true })
    .withResponse();
  let usageChunks = 0;
  for await (const chunk of stream) if (chunk.usage) usageChunks++;
  t.equal(usageChunks, 0);
  t.same(upstream.bodies.at(-1)?.stream_options, { include_usage: true });
  const record = await decisionOf(response.headers.get("x-request-id"));
  t.match(record, { outcome: "COMPLETED", tokens_used: billedPromptTokens({ messages: ask("no usage for me") }) + 7 });
});

t.test(
  "an upstream that goes silent mid-stream ends the stream with UPSTREAM_ERROR, charging what was delivered",
  async (t) => {
    const messages = ask(`${STALL} then silence`);
    const { data: stream, response } = await research.chat.completions
      .create({ model: "m-research", messages, max_tokens: 100, stream: true })
      .withResponse();
    let text = "";
    const failure = await (async () => {
      try {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      } catch (error) {
        return error;
      }
    })();
    t.match(failure, { code: "UPSTREAM_ERROR" });
    const record = await decisionOf(response.headers.get("x-request-id"));
    t.match(record, {
      outcome: "UPSTREAM_ERROR",
      reason_code: "UPSTREAM_ERROR",
      tokens_used: billedPromptTokens({ messages }) + countTextTokens(text),
    });
  },
);

t.test("a client that disconnects mid-stream is charged what was produced", async (t) => {
  const messages = ask(`${STALL} a long story`);
  const { data: stream, response } = await research.chat.completions
    .create({ model: "m-research", messages, max_tokens: 100, stream: true })
    .withResponse();
  let text = "";
  let chunks = 0;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (++chunks === STALL_AFTER) break; // leaving the loop aborts the request
  }
  const requestId = response.headers.get("x-request-id");
  const record = await until(async () => {
    const d = await decisionOf(requestId);
    return d.outcome === "PENDING" ? undefined : d;
  }, "the disconnected call to settle");
  t.equal(record.outcome, "CLIENT_CLOSED");
  t.equal(record.tokens_used, billedPromptTokens({ messages }) + countTextTokens(text));
  t.ok(record.tokens_used < record.tokens_reserved);
  await until(async () => (upstream.abandoned > 0 ? true : undefined), "the upstream request to be closed");
  t.match(await released("grant:1"), { reserved: 0 });
});

t.test("the ledger equals the sum of the audit records", async (t) => {
  const ledger = await db
    .selectFrom("gateway_usage")
    .select((eb) => eb.fn.sum<string>("tokens_used").as("n"))
    .executeTakeFirstOrThrow();
  const audit = await db
    .selectFrom("gateway_decisions")
    .select((eb) => eb.fn.sum<string>("tokens_used").as("n"))
    .executeTakeFirstOrThrow();
  const used = await db
    .selectFrom("gateway_budget_counters")
    .select((eb) => eb.fn.sum<string>("used").as("n"))
    .where("account", "!=", "pool")
    .executeTakeFirstOrThrow();
  t.equal(Number(ledger.n), Number(audit.n));
  t.equal(Number(used.n), Number(audit.n));
});

t.test("a key revoked while cached is refused on the next calls (every replica hears the revocation)", async (t) => {
  const issued = await issueApiKey(db, { address: bob });
  const client = gw.client(issued.key);
  await client.chat.completions.create({ model: "m-open", messages: ask("hi"), max_tokens: 1 });
  t.equal(await revokeApiKey(db, { id: issued.id, address: bob }), true);
  const refused = await until(
    async () =>
      client.chat.completions
        .create({ model: "m-open", messages: ask("hi"), max_tokens: 1 })
        .then(() => undefined)
        .catch((error: unknown) => error),
    "the revocation to reach the gateway",
  );
  t.match(refused, { status: 401, code: "INVALID_API_KEY" });
});

t.test("a revocation missed while the listener was away is enforced once it reconnects", async (t) => {
  const issued = await issueApiKey(db, { address: bob });
  const client = gw.client(issued.key);
  const call = () =>
    client.chat.completions
      .create({ model: "m-open", messages: ask("hi"), max_tokens: 1 })
      .then(() => "ADMITTED")
      .catch((error: unknown) => error);
  t.equal(await call(), "ADMITTED", "the key is now cached");
  // Revoked without a notification: what a replica misses while its listening connection is down.
  await db.updateTable("api_keys").set({ revoked_at: new Date() }).where("id", "=", issued.id).execute();
  t.equal(await call(), "ADMITTED", "the cache does not know yet");
  await sql`select pg_terminate_backend(pid) from pg_stat_activity
    where datname = current_database() and query like 'LISTEN%'`.execute(db);
  const refused = await until(async () => {
    const outcome = await call();
    return outcome === "ADMITTED" ? undefined : outcome;
  }, "the listener to reconnect and forget its cached keys");
  t.match(refused, { status: 401, code: "INVALID_API_KEY" });
});
