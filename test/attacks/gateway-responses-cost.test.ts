/**
 * Attacks on what a Responses API call costs: input items and fields that make the upstream bill far more
 * than a short input string. Every admitted call must be charged exactly what the upstream billed, and
 * must have reserved at least that much.
 */
import type OpenAI from "openai";
import t, { type Test } from "tap";
import { BILLED_PER_IMAGE } from "../../services/devkit/openai-upstream.ts";
import { gatewayUnderAttack } from "./gateway-target.ts";

const { db, upstream, client } = await gatewayUnderAttack(t, { policy: { max_tokens_per_request: 256 } });

type Params = OpenAI.Responses.ResponseCreateParamsNonStreaming;

/** Sends `params`, and checks: charged exactly what the upstream billed, having reserved at least that. */
async function chargedAsBilled(t: Test, what: string, params: Params) {
  const { response } = await client.responses.create(params).withResponse();
  const billed = upstream.billed.at(-1)?.total_tokens as number;
  const audit = await db
    .selectFrom("gateway_decisions")
    .selectAll()
    .where("request_id", "=", response.headers.get("x-request-id") ?? "")
    .executeTakeFirstOrThrow();
  t.equal(audit.tokens_used, billed, `${what}: charged what the upstream billed`);
  t.ok(
    (audit.tokens_reserved as number) >= billed,
    `${what}: reserved ${audit.tokens_reserved} covers the ${billed} billed`,
  );
}

const bigText = (words: number) => "the commons counts every token it is billed for ".repeat(words / 10);

t.test("every input field of a response that costs tokens is reserved for and charged as billed", async (t) => {
  await chargedAsBilled(t, "long instructions", {
    model: "m",
    instructions: bigText(4_000),
    input: "hi",
    max_output_tokens: 1,
  });
  await chargedAsBilled(t, "a 40 KB function tool and a forced choice", {
    model: "m",
    input: "hi",
    max_output_tokens: 1,
    tools: [
      {
        type: "function",
        name: "lookup",
        description: bigText(8_000),
        parameters: { type: "object", properties: { q: { type: "string", description: bigText(100) } } },
        strict: false,
      },
    ],
    tool_choice: { type: "function", name: "lookup" },
  });
  await chargedAsBilled(t, "a custom tool", {
    model: "m",
    input: "hi",
    max_output_tokens: 1,
    tools: [{ type: "custom", name: "grammar", description: bigText(1_000) }],
  });
  await chargedAsBilled(t, "a conversation of items: messages, tool calls and their outputs, reasoning", {
    model: "m",
    max_output_tokens: 1,
    input: [
      { role: "developer", content: bigText(500) },
      { role: "user", content: [{ type: "input_text", text: bigText(500) }] },
      {
        type: "message",
        role: "assistant",
        id: "msg_1",
        status: "completed",
        content: [{ type: "output_text", text: bigText(500), annotations: [] }],
      },
      { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: bigText(500) }] },
      { type: "function_call", call_id: "call_1", name: "lookup", arguments: JSON.stringify({ q: bigText(500) }) },
      { type: "function_call_output", call_id: "call_1", output: bigText(2_000) },
      { type: "custom_tool_call", call_id: "call_2", name: "grammar", input: bigText(500) },
      { type: "custom_tool_call_output", call_id: "call_2", output: [{ type: "input_text", text: bigText(500) }] },
    ],
  });
  await chargedAsBilled(t, "images", {
    model: "m",
    max_output_tokens: 1,
    input: [
      {
        role: "user",
        content: [
          { type: "input_text", text: "what is in these?" },
          { type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=", detail: "high" },
          { type: "input_image", file_id: "file_123", detail: "auto" },
        ],
      },
    ],
  });
  await chargedAsBilled(t, "a JSON schema text format", {
    model: "m",
    input: "hi",
    max_output_tokens: 1,
    text: { format: { type: "json_schema", name: "answer", schema: { type: "object", description: bigText(1_000) } } },
  });
  t.ok(
    upstream.billed.some((b) => b.prompt_tokens >= 2 * BILLED_PER_IMAGE),
    "the upstream billed the images at a provider's rate",
  );
});
