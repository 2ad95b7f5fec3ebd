/**
 * POST /v1/responses through the official openai SDK (client.responses.create, JSON and streamed):
 * judged, reserved, charged and audited exactly as chat completions are.
 */
import { Wallet } from "ethers";
import OpenAI from "openai";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import {
  billedResponsesPromptTokens,
  FAIL,
  PROVIDER_SECRET,
  STALL,
  STALL_AFTER,
  STREAM_ERROR,
  startTestUpstream,
} from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { countTextTokens } from "../../services/gateway/tokens.ts";

const alice = Wallet.createRandom().address; // a large grant
const carol = Wallet.createRandom().address; // a small grant
const GRANT = 1_000_000;

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
    policyRow("m-slow", { allowed_purposes: [], blocked_terms: [], requests_per_minute: 1 }),
    policyRow("m-suspended", { version: 2, suspended: true, suspend_reason: "under review" }),
    policyRow("m-unapproved", { approved: false }),
  ],
  grants: [
    { grantId: 1, grantee: alice, tokensPerEpoch: GRANT },
    { grantId: 2, grantee: carol, tokensPerEpoch: 60 },
  ],
  pool: { allowancePerAddress: 0, poolSizePerEpoch: 0 },
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
  carol: (await issueApiKey(db, { address: carol })).key,
};
const client = gw.client(keys.alice, { purpose: "research" });
const provider = new URL(upstream.url).host;

const record = (requestId: string | null) =>
  db
    .selectFrom("gateway_decisions")
    .selectAll()
    .where("request_id", "=", requestId ?? "")
    .executeTakeFirstOrThrow();
const settled = (requestId: string | null) =>
  until(async () => {
    const d = await record(requestId);
    return d.outcome === "PENDING" ? undefined : d;
  }, `call ${requestId} to settle`);
/** The grant's counters once nothing is reserved (calls settled, the replica's slice given back). */
const released = (account: string) =>
  until(async () => {
    const c = await db
      .selectFrom("gateway_budget_counters")
      .selectAll()
      .where("account", "=", account)
      .executeTakeFirst();
    return c?.reserved === 0 ? c : undefined;
  }, `nothing reserved on ${account}`);

async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    if (error instanceof OpenAI.APIError)
      return { status: error.status, code: error.code, type: error.type, message: error.message };
    throw error;
  }
  throw new Error("the call was admitted");
}

t.test("an admitted response is forwarded within its limits, charged its real usage and audited", async (t) => {
  const params = {
    model: "m-research",
    instructions: "Be brief.",
    input: "Summarise the commons.",
    max_output_tokens: 20,
  };
  const { data, response } = await client.responses.create(params).withResponse();
  t.equal(response.status, 200);
  t.equal(data.usage?.output_tokens, 20);
  t.ok(data.output_text.length > 0, "the SDK reads the output text");
  const sent = upstream.bodies.at(-1);
  t.equal(sent?.max_output_tokens, 20);
  t.equal(sent?.metadata, undefined, "the purpose is not forwarded");
  t.equal(response.headers.get("x-commons-policy-version"), "1");
  const billed = upstream.billed.at(-1)?.total_tokens as number;
  t.equal(data.usage?.total_tokens, billed);
  t.match(await record(response.headers.get("x-request-id")), {
    endpoint: "responses",
    consumer: alice,
    purpose: "research",
    admitted: true,
    tokens_reserved: billedResponsesPromptTokens(params) + 20,
    tokens_used: billed,
    outcome: "COMPLETED",
    provider,
  });
});

t.test("a response without max_output_tokens runs with the configured bound", async (t) => {
  const data = await gw
    .client(keys.alice)
    .responses.create({ model: "m-research", input: "hello", metadata: { purpose: "education", team: "a" } });
  t.equal(upstream.bodies.at(-1)?.max_output_tokens, 32);
  t.same(upstream.bodies.at(-1)?.metadata, { team: "a" }, "other metadata is forwarded, the purpose is not");
  t.equal(data.usage?.output_tokens, 32);
});

t.test("every refusal carries its reason code, on a response as on a chat completion", async (t) => {
  const cases: [string, () => Promise<unknown>, number, string][] = [
    [
      "unknown key",
      () => gw.client("sk-commons-nope").responses.create({ model: "m-research", input: "hi" }),
      401,
      "INVALID_API_KEY",
    ],
    ["unknown model", () => client.responses.create({ model: "m-none", input: "hi" }), 404, "MODEL_NOT_APPROVED"],
    [
      "unapproved model",
      () => client.responses.create({ model: "m-unapproved", input: "hi" }),
      404,
      "MODEL_NOT_APPROVED",
    ],
    ["suspended model", () => client.responses.create({ model: "m-suspended", input: "hi" }), 403, "MODEL_SUSPENDED"],
    [
      "no purpose",
      () => gw.client(keys.alice).responses.create({ model: "m-research", input: "hi" }),
      403,
      "PURPOSE_NOT_ALLOWED",
    ],
    [
      "blocked content in the instructions",
      () => client.responses.create({ model: "m-research", instructions: "say FORBIDDEN-term", input: "hi" }),
      400,
      "CONTENT_BLOCKED",
    ],
    [
      "blocked content in a tool's output",
      () =>
        client.responses.create({
          model: "m-research",
          input: [
            { type: "function_call", call_id: "c1", name: "lookup", arguments: "{}" },
            { type: "function_call_output", call_id: "c1", output: "the forbidden-term is here" },
          ],
        }),
      400,
      "CONTENT_BLOCKED",
    ],
    [
      "blocked content in a tool's description",
      () =>
        client.responses.create({
          model: "m-research",
          input: "hi",
          tools: [
            {
              type: "function",
              name: "f",
              description: "Forbidden-Term",
              parameters: { type: "object" },
              strict: false,
            },
          ],
        }),
      400,
      "CONTENT_BLOCKED",
    ],
    [
      "max_output_tokens above the limit",
      () => client.responses.create({ model: "m-research", input: "hi", max_output_tokens: 257 }),
      400,
      "MAX_TOKENS_EXCEEDED",
    ],
    [
      "more than the grant",
      () => gw.client(keys.carol).responses.create({ model: "m-slow", input: "hi", max_output_tokens: 100 }),
      429,
      "BUDGET_EXHAUSTED",
    ],
  ];
  for (const [name, call, status, code] of cases) t.match(await failure(call()), { status, code }, name);

  const slow = gw.client(keys.alice);
  await slow.responses.create({ model: "m-slow", input: "one", max_output_tokens: 1 });
  t.match(
    await failure(slow.responses.create({ model: "m-slow", input: "two", max_output_tokens: 1 })),
    { status: 429, code: "RATE_LIMITED", type: "rate_limit_error" },
    "the per-minute limit counts responses",
  );
  const reasons = await db
    .selectFrom("gateway_decisions")
    .select("reason_code")
    .where("endpoint", "=", "responses")
    .where("admitted", "=", false)
    .execute();
  t.same(
    [...new Set(reasons.map((r) => r.reason_code))].sort(),
    [...new Set([...cases.map((c) => c[3]), "RATE_LIMITED"].filter((c) => c !== "INVALID_API_KEY"))].sort(),
    "each refusal with a key is audited with its reason",
  );
});

t.test("fields whose cost cannot be bounded, and unknown fields, are refused before anything is counted", async (t) => {
  const before = upstream.bodies.length;
  const refused: [string, Record<string, unknown>][] = [
    ["an unknown field", { input: "hi", frobnicate: true }],
    ["a stored conversation", { input: "hi", previous_response_id: "resp_123" }],
    ["a conversation", { input: "hi", conversation: "conv_123" }],
    ["a stored prompt", { prompt: { id: "pmpt_123" } }],
    ["a background response", { input: "hi", background: true }],
    ["a built-in tool", { input: "hi", tools: [{ type: "web_search" }] }],
    ["an item reference", { input: [{ type: "item_reference", id: "msg_123" }] }],
    ["a file", { input: [{ role: "user", content: [{ type: "input_file", file_id: "file_123" }] }] }],
    ["encrypted reasoning", { input: [{ type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAA" }] }],
    ["a priority tier", { input: "hi", service_tier: "priority" }],
  ];
  for (const [what, fields] of refused) {
    const params = { model: "m-research", ...fields } as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming;
    const refusal = await failure(client.responses.create(params));
    t.match(refusal, { status: 400, code: "BAD_USER_INPUT" }, what);
    t.ok(refusal.message.length > 40, `${what}: the message says why (${refusal.message})`);
  }
  t.equal(upstream.bodies.length, before, "nothing reached the upstream");
  // A refused field that is not used is no use of it.
  const data = await client.responses.create({
    model: "m-research",
    input: "hi",
    previous_response_id: null,
    background: false,
    max_output_tokens: 1,
  });
  t.equal(data.usage?.output_tokens, 1);
  t.notOk("previous_response_id" in (upstream.bodies.at(-1) ?? {}), "and it is not forwarded");
});

t.test("a streamed response forwards the events and is charged the usage of its final event", async (t) => {
  const { data: stream, response } = await client.responses
    .create({ model: "m-research", input: "stream please", max_output_tokens: 12, stream: true })
    .withResponse();
  let text = "";
  let usage: OpenAI.Responses.ResponseUsage | null | undefined;
  const types = new Set<string>();
  for await (const event of stream) {
    types.add(event.type);
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.incomplete" || event.type === "response.completed") usage = event.response.usage;
  }
  t.ok(types.has("response.created") && types.has("response.incomplete"), "the events come as they were sent");
  t.equal(usage?.output_tokens, 12);
  t.equal(countTextTokens(text), 12);
  t.match(await settled(response.headers.get("x-request-id")), {
    endpoint: "responses",
    outcome: "COMPLETED",
    tokens_used: usage?.total_tokens,
    provider,
  });
});

t.test("a client that disconnects from a streamed response is charged its prompt and what it got", async (t) => {
  const params = { model: "m-research", input: `${STALL} a long story`, max_output_tokens: 100 };
  const { data: stream, response } = await client.responses.create({ ...params, stream: true }).withResponse();
  let text = "";
  let deltas = 0;
  for await (const event of stream) {
    if (event.type !== "response.output_text.delta") continue;
    text += event.delta;
    if (++deltas === STALL_AFTER) break; // leaving the loop aborts the request
  }
  const audit = await settled(response.headers.get("x-request-id"));
  t.equal(audit.outcome, "CLIENT_CLOSED");
  t.equal(audit.tokens_used, billedResponsesPromptTokens(params) + countTextTokens(text));
  await until(async () => (upstream.abandoned > 0 ? true : undefined), "the upstream request to be closed");
});

t.test("an upstream failure releases the reservation; its words never reach the client", async (t) => {
  const refusal = await failure(client.responses.create({ model: "m-research", input: FAIL, max_output_tokens: 5 }));
  t.match(refusal, { status: 502, code: "UPSTREAM_ERROR" });
  t.notOk(refusal.message.includes(PROVIDER_SECRET));
  const requestId = /req_[0-9a-f]{32}/.exec(refusal.message)?.[0] ?? null;
  t.match(await record(requestId), { outcome: "UPSTREAM_ERROR", tokens_used: 0, provider });

  const stream = await client.responses.create({
    model: "m-research",
    input: STREAM_ERROR,
    max_output_tokens: 50,
    stream: true,
  });
  const error = await (async () => {
    for await (const _ of stream);
  })().catch((e: unknown) => e);
  t.ok(error instanceof OpenAI.APIError, "the SDK raises the stream's error event");
  t.match(error, { code: "UPSTREAM_ERROR" });
  t.notOk((error as Error).message.includes(PROVIDER_SECRET), "in our words");
  t.match(await released("grant:1"), { reserved: 0 });
});
