/**
 * Attacks on what a call costs: request fields that make the upstream bill far more than the messages'
 * text. Every admitted call must be charged exactly what the upstream billed, and must have reserved at
 * least that much (or be refused); a field whose cost cannot be bounded is refused, not forwarded.
 */
import type OpenAI from "openai";
import t, { type Test } from "tap";
import { BILLED_PER_IMAGE, OVERBILL, OVERBILLED } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { ask, gatewayUnderAttack, outcome } from "./gateway-target.ts";

const LIMIT = 256;
const SMALL_GRANT = 3_000;
// A fixed clock a second into a minute, so that per-minute counting never straddles a boundary.
const start = Date.now();
const clock = start - (start % 60_000) + 1_000;
// The first consumer's large grant is sliced by the replica; the second's small one is taken call by call.
const { db, upstream, gw, consumers, clients } = await gatewayUnderAttack(t, {
  grants: [10_000_000, SMALL_GRANT],
  policy: { max_tokens_per_request: LIMIT },
  now: () => clock,
});
const [client, poorClient] = clients as [OpenAI, OpenAI];
const rich = consumers[0]?.address as string;

type Params = OpenAI.ChatCompletionCreateParamsNonStreaming;
const record = (requestId: string | null) =>
  db
    .selectFrom("gateway_decisions")
    .selectAll()
    .where("request_id", "=", requestId ?? "")
    .executeTakeFirstOrThrow();
const counters = (account: string) =>
  db.selectFrom("gateway_budget_counters").selectAll().where("account", "=", account).executeTakeFirstOrThrow();

/** Sends `params`, and checks: charged exactly what the upstream billed, having reserved at least that. */
async function chargedAsBilled(t: Test, what: string, params: Params) {
  const { response } = await client.chat.completions.create(params).withResponse();
  const billed = upstream.billed.at(-1)?.total_tokens as number;
  const audit = await record(response.headers.get("x-request-id"));
  t.equal(audit.tokens_used, billed, `${what}: charged what the upstream billed`);
  t.ok(
    (audit.tokens_reserved as number) >= billed,
    `${what}: reserved ${audit.tokens_reserved} covers the ${billed} billed`,
  );
}

const bigText = (words: number) => "the commons counts every token it is billed for ".repeat(words / 10);
const image = {
  type: "image_url" as const,
  image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "high" as const },
};
// One second of 16-bit mono audio at 8 kHz (16,000 bytes).
const audio = { type: "input_audio" as const, input_audio: { data: "A".repeat(21_334), format: "wav" as const } };

t.test("every field that costs tokens is reserved for and charged as billed", async (t) => {
  await chargedAsBilled(t, "n", { model: "m", messages: ask("hi"), n: 64, max_tokens: 4 });
  await chargedAsBilled(t, "a 40 KB tool description", {
    model: "m",
    messages: ask("hi"),
    max_tokens: 1,
    tools: [
      {
        type: "function",
        function: {
          name: "lookup",
          description: bigText(8_000),
          parameters: { type: "object", properties: { q: { type: "string", description: bigText(100) } } },
        },
      },
    ],
    tool_choice: { type: "function", function: { name: "lookup" } },
  });
  await chargedAsBilled(t, "functions (deprecated)", {
    model: "m",
    messages: ask("hi"),
    max_tokens: 1,
    functions: [{ name: "f", description: bigText(500), parameters: { type: "object" } }],
    function_call: { name: "f" },
  });
  await chargedAsBilled(t, "tool calls and names in the history", {
    model: "m",
    max_tokens: 1,
    messages: [
      { role: "user", content: "hi", name: "a-rather-long-participant-name" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "lookup", arguments: bigText(2_000) } }],
      },
      { role: "tool", tool_call_id: "call_1", content: "done" },
    ],
  });
  await chargedAsBilled(t, "images", {
    model: "m",
    max_tokens: 1,
    messages: [{ role: "user", content: [{ type: "text", text: "what is in these?" }, image, image, image] }],
  });
  await chargedAsBilled(t, "input audio", {
    model: "m",
    max_tokens: 1,
    messages: [{ role: "user", content: [{ type: "text", text: "transcribe" }, audio] }],
  });
  await chargedAsBilled(t, "a JSON schema response format", {
    model: "m",
    messages: ask("hi"),
    max_tokens: 1,
    response_format: {
      type: "json_schema",
      json_schema: { name: "answer", schema: { type: "object", description: bigText(1_000) } },
    },
  });
  await chargedAsBilled(t, "a prediction", {
    model: "m",
    messages: ask("hi"),
    max_tokens: 1,
    prediction: { type: "content", content: bigText(2_000) },
  });
  t.ok(
    upstream.billed.some((b) => b.prompt_tokens >= 3 * BILLED_PER_IMAGE),
    "the images were billed",
  );
});

t.test("the per-request token limit covers n completions", async (t) => {
  const before = upstream.bodies.length;
  t.match(await outcome(client.chat.completions.create({ model: "m", messages: ask("hi"), n: 128, max_tokens: 100 })), {
    status: 400,
    code: "MAX_TOKENS_EXCEEDED",
  });
  t.match(await outcome(client.chat.completions.create({ model: "m", messages: ask("hi"), n: LIMIT + 1 })), {
    status: 400,
  });
  t.equal(upstream.bodies.length, before, "nothing reached the upstream");
});

t.test("one token limit, whatever the spelling", async (t) => {
  const before = upstream.bodies.length;
  for (const [name, bounds] of [
    ["max_tokens above", { max_completion_tokens: 10, max_tokens: LIMIT + 200 }],
    ["max_completion_tokens above", { max_tokens: 10, max_completion_tokens: LIMIT + 200 }],
  ] as const) {
    t.match(
      await outcome(client.chat.completions.create({ model: "m", messages: ask("hi"), ...bounds })),
      { status: 400, code: "MAX_TOKENS_EXCEEDED" },
      name,
    );
  }
  t.equal(upstream.bodies.length, before, "nothing reached the upstream");

  await chargedAsBilled(t, "both bounds", {
    model: "m",
    messages: ask("hi"),
    max_completion_tokens: 10,
    max_tokens: 20,
  });
  t.match(upstream.bodies.at(-1), { max_completion_tokens: 20, max_tokens: 20 }, "the admitted bound, in both fields");
});

t.test("fields whose cost cannot be bounded, and unknown fields, are refused, never forwarded", async (t) => {
  const before = upstream.bodies.length;
  const cases: [string, Record<string, unknown>, string][] = [
    ["audio output", { modalities: ["text", "audio"] }, "modalities"],
    ["audio parameters", { audio: { voice: "alloy", format: "wav" } }, "audio"],
    ["web search", { web_search_options: {} }, "web_search_options"],
    ["moderation by another model", { moderation: { model: "omni-moderation-latest" } }, "moderation"],
    ["a pricier service tier", { service_tier: "priority" }, "service_tier"],
    ["an unknown field", { unbounded_magic: true }, "unbounded_magic"],
    [
      "a file part",
      { messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-1" } }] }] },
      "messages.0.content.0.file",
    ],
    [
      "an unknown message field",
      { messages: [{ role: "user", content: "hi", extra_context: "lots" }] },
      "messages.0.extra_context",
    ],
    [
      "an earlier audio answer",
      { messages: [{ role: "assistant", content: null, audio: { id: "audio_1" } }, ...ask("hi")] },
      "messages.0.audio",
    ],
  ];
  for (const [name, fields, field] of cases) {
    const params = { model: "m", messages: ask("hi"), max_tokens: 1, ...fields } as Params;
    const refused = await outcome(client.chat.completions.create(params));
    t.match(refused, { status: 400, code: "BAD_USER_INPUT" }, name);
    const message = refused === "ADMITTED" ? "" : refused.message;
    t.ok(message.includes(field), `${name}: the message names ${field} (${message})`);
  }
  t.equal(upstream.bodies.length, before, "nothing reached the upstream");
});

t.test("a model id longer than any policy can hold is refused before the key is even looked at", async (t) => {
  const refused = await outcome(
    gw.client("not-a-key").chat.completions.create({ model: "m".repeat(129), messages: ask("hi") }),
  );
  t.match(refused, { status: 400, code: "BAD_USER_INPUT" });
});

t.test("a call billed beyond its reservation is charged the bill, and the account then has no room", async (t) => {
  const { response } = await poorClient.chat.completions
    .create({ model: "m", messages: ask(`${OVERBILL} hi`), max_tokens: 1 })
    .withResponse();
  const billed = upstream.billed.at(-1)?.total_tokens as number;
  t.ok(billed > OVERBILLED);
  const audit = await record(response.headers.get("x-request-id"));
  t.equal(audit.tokens_used, billed, "the audit record says what was billed");
  t.ok((audit.tokens_used as number) > (audit.tokens_reserved as number), "an overdraft, on record");
  t.match(await counters("grant:2"), { used: billed, reserved: 0 });
  const overdraft = await gw.metrics.overdraftTokens.get();
  t.equal(overdraft.values[0]?.value, billed - (audit.tokens_reserved as number), "counted in the metric");
  t.match(await outcome(poorClient.chat.completions.create({ model: "m", messages: ask("hi"), max_tokens: 1 })), {
    status: 429,
    code: "BUDGET_EXHAUSTED",
  });
});

t.test("an overdraft on a replica's budget slice never takes the slice below zero", async (t) => {
  const reserveWrites = async () =>
    (await gw.metrics.ledgerWrites.get()).values.find((v) => v.labels.kind === "reserve")?.value ?? 0;
  // Calls until this replica holds a slice of the grant (taken in the background after a call).
  await until(async () => {
    await client.chat.completions.create({ model: "m", messages: ask("warming up"), max_tokens: 1 });
    return (await counters("grant:1")).reserved > 0 ? true : undefined;
  }, "a slice of the grant");
  const writes = await reserveWrites();
  const { response } = await client.chat.completions
    .create({ model: "m", messages: ask(`${OVERBILL} on a slice`), max_tokens: 1 })
    .withResponse();
  t.equal(await reserveWrites(), writes, "admitted on the slice: no reservation of its own");
  const audit = await record(response.headers.get("x-request-id"));
  t.equal(audit.tokens_used, upstream.billed.at(-1)?.total_tokens, "charged what was billed");
  t.ok((await counters("grant:1")).reserved >= 0);
  // Once the idle slice went back, nothing is reserved and the counters hold exactly what was billed.
  const settled = await until(async () => {
    const c = await counters("grant:1");
    return c.reserved === 0 ? c : undefined;
  }, "the slice to go back");
  const usage = await db
    .selectFrom("gateway_usage")
    .select((eb) => eb.fn.sum<string>("tokens_used").as("n"))
    .where("consumer", "=", rich)
    .executeTakeFirstOrThrow();
  t.equal(settled.used, Number(usage.n), "the counters equal the ledger");
});

t.test("the ledger equals what the upstream billed", async (t) => {
  const ledger = await db
    .selectFrom("gateway_usage")
    .select((eb) => eb.fn.sum<string>("tokens_used").as("n"))
    .executeTakeFirstOrThrow();
  t.equal(
    Number(ledger.n),
    upstream.billed.reduce((n, b) => n + b.total_tokens, 0),
  );
});
