import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { countTokens, decode, encode } from "gpt-tokenizer";

/**
 * Markers a test puts in a message to make this upstream misbehave on that one call:
 * `[fail]` answers 500 (with provider details and a key in its body), `[hang]` never answers, `[stall]`
 * streams a few chunks and then goes silent, `[accept-only]` starts a stream (the role, no content) and
 * then sends nothing,
 * `[stream-error]` streams a few chunks and then an error event (with provider details), `[overbill]`
 * bills OVERBILLED more prompt tokens than the request holds (a provider that counts some input far above
 * any estimate, as gpt-4o-mini counts images).
 */
export const FAIL = "[fail]";
export const HANG = "[hang]";
export const STALL = "[stall]";
export const ACCEPT_ONLY = "[accept-only]";
export const STREAM_ERROR = "[stream-error]";
export const OVERBILL = "[overbill]";
export const OVERBILLED = 5_000;
/** Chunks a `[stall]` or `[stream-error]` stream sends first. */
export const STALL_AFTER = 5;
/** What this upstream's errors say: provider internals no client of the gateway may see. */
export const PROVIDER_SECRET = "sk-provider-0123456789abcdef";

/**
 * What this upstream bills per image and per second of audio, as a provider does: 1,445 is the most a
 * tiled OpenAI model bills for one image (85 + 8 tiles × 170 at high detail); 10 tokens a second of audio.
 * Audio here is 16-bit mono at 8 kHz: 16,000 bytes a second.
 */
export const BILLED_PER_IMAGE = 1_445;
const AUDIO_BYTES_PER_SECOND = 16_000;
const AUDIO_TOKENS_PER_SECOND = 10;

const WORDS = encode(" the commons decides which models serve whom and for what purpose".repeat(64));
const plain = { disallowedSpecial: new Set<string>() };
const tokens = (text: string) => (text === "" ? 0 : countTokens(text, plain));
/** Tool definitions, tool calls and schemas reach the model as their JSON text (as chat templates render them). */
const json = (value: unknown) => (value === undefined || value === null ? 0 : tokens(JSON.stringify(value)));

type Json = Record<string, unknown>;

function partTokens(content: unknown): number {
  if (typeof content === "string") return tokens(content);
  if (!Array.isArray(content)) return 0;
  let total = 0;
  for (const part of content as Json[]) {
    if (part.type === "text" || part.type === "input_text" || part.type === "output_text")
      total += tokens(String(part.text));
    if (part.type === "refusal") total += tokens(String(part.refusal));
    if (part.type === "image_url" || part.type === "input_image") total += BILLED_PER_IMAGE;
    if (part.type === "input_audio") {
      const bytes = (String((part.input_audio as Json).data).length * 3) / 4;
      total += Math.ceil((bytes / AUDIO_BYTES_PER_SECOND) * AUDIO_TOKENS_PER_SECOND);
    }
  }
  return total;
}

/**
 * The prompt tokens this upstream bills for a chat request: every input field the model reads. Written
 * apart from the gateway's estimate (services/gateway/tokens.ts), so that tests can check that what the
 * gateway reserves covers what a provider bills.
 */
export function billedPromptTokens(body: Json): number {
  let total = 3;
  for (const m of (body.messages ?? []) as Json[]) {
    total += 4 + partTokens(m.content);
    if (typeof m.name === "string") total += 1 + tokens(m.name);
    if (typeof m.refusal === "string") total += tokens(m.refusal);
    if (typeof m.tool_call_id === "string") total += tokens(m.tool_call_id);
    for (const call of (m.tool_calls ?? []) as Json[]) total += json(call);
    total += json(m.function_call);
  }
  for (const field of ["tools", "functions"] as const)
    for (const item of (body[field] ?? []) as Json[]) total += json(item);
  for (const field of ["tool_choice", "function_call"] as const)
    if (typeof body[field] === "object") total += json(body[field]);
  if ((body.response_format as Json | undefined)?.type !== "text") total += json(body.response_format);
  return total;
}

/**
 * The prompt tokens this upstream bills for a Responses API request, apart from the gateway's estimate as
 * billedPromptTokens is: the instructions and every input item, tools, the tool choice and text format.
 */
export function billedResponsesPromptTokens(body: Json): number {
  let total = 3;
  if (typeof body.instructions === "string") total += 4 + tokens(body.instructions);
  const input = body.input;
  if (typeof input === "string") total += 4 + tokens(input);
  for (const item of (Array.isArray(input) ? input : []) as Json[]) {
    if (item.type === "function_call" || item.type === "custom_tool_call") total += json(item);
    else if (item.type === "reasoning")
      total += [...(item.summary as Json[]), ...((item.content ?? []) as Json[])].reduce(
        (n, part) => n + tokens(String(part.text)),
        0,
      );
    else if (item.type === "function_call_output" || item.type === "custom_tool_call_output")
      total += 4 + tokens(String(item.call_id)) + partTokens(item.output);
    else total += 4 + partTokens(item.content);
  }
  for (const tool of (body.tools ?? []) as Json[]) total += json(tool);
  if (typeof body.tool_choice === "object") total += json(body.tool_choice);
  const format = (body.text as Json | undefined)?.format as Json | undefined;
  if (format?.type !== "text") total += json(format);
  return total;
}

/** A predicted output's tokens: the provider bills the rejected ones as completion tokens (here, all). */
const predictionTokens = (body: Json) => partTokens((body.prediction as Json | undefined)?.content);

/** The bound this upstream honours: the larger of the fields, as a lenient provider might. */
const boundOf = (body: Json) =>
  Math.max(
    Number(body.max_tokens ?? 0),
    Number(body.max_completion_tokens ?? 0),
    Number(body.max_output_tokens ?? 0),
  ) || 16;

/** Every text of a request, for the markers. */
function textOf(body: Json): string {
  return JSON.stringify(body.input ?? body.messages ?? "");
}

export interface TestUpstream {
  /** Base URL, as UPSTREAM_URL takes it (…/v1). */
  url: string;
  /** Every request body received, in order. */
  bodies: Json[];
  /** Every usage this upstream reported, in order (what it billed). */
  billed: { prompt_tokens: number; completion_tokens: number; total_tokens: number }[];
  /** Requests whose connection closed before the answer finished (the gateway hung up). */
  abandoned: number;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json;
}

type Usage = TestUpstream["billed"][number];

/** How one endpoint answers: whole (JSON), or as server-sent events (the start, each token, the end, an error). */
interface Dialect {
  answer(text: string): Json;
  start: string;
  delta(token: string): string;
  end(text: string): string;
  error(message: string): string;
}

function chatDialect(body: Json, usage: Usage, choices: number): Dialect {
  const base = { id: "chatcmpl-test", created: 1_700_000_000, model: body.model, system_fingerprint: "test-upstream" };
  const indexes = Array.from({ length: choices }, (_, index) => index);
  const chunk = (chunkChoices: unknown[], chunkUsage: unknown = null) =>
    `data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices: chunkChoices, usage: chunkUsage })}\n\n`;
  const wantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  return {
    answer: (text) => ({
      ...base,
      object: "chat.completion",
      choices: indexes.map((index) => ({
        index,
        message: { role: "assistant", content: text },
        finish_reason: "length",
      })),
      usage,
    }),
    start: "",
    delta: (token) => chunk(indexes.map((index) => ({ index, delta: { content: token }, finish_reason: null }))),
    end: () =>
      chunk(indexes.map((index) => ({ index, delta: {}, finish_reason: "length" }))) +
      (wantsUsage ? chunk([], usage) : "") +
      "data: [DONE]\n\n",
    error: (message) => `data: ${JSON.stringify({ error: { message, type: "server_error" } })}\n\n`,
  };
}

/** The Responses API: a response object, or its named events, usage in the last one (response.incomplete). */
function responsesDialect(body: Json, usage: Usage): Dialect {
  let sequence = 0;
  const event = (type: string, fields: Json) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`;
  const response = (status: string, text: string | null) => ({
    id: "resp_test",
    object: "response",
    created_at: 1_700_000_000,
    model: body.model,
    status,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    output:
      text === null
        ? []
        : [
            {
              type: "message",
              id: "msg_test",
              role: "assistant",
              status,
              content: [{ type: "output_text", text, annotations: [] }],
            },
          ],
    usage:
      text === null
        ? null
        : {
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
          },
  });
  const at = { item_id: "msg_test", output_index: 0, content_index: 0 };
  return {
    // The bound is always reached here: the response is incomplete, as OpenAI reports it.
    answer: (text) => response("incomplete", text),
    start: event("response.created", { response: response("in_progress", null) }),
    delta: (token) => event("response.output_text.delta", { ...at, delta: token, logprobs: [] }),
    end: (text) => event("response.incomplete", { response: response("incomplete", text) }),
    error: (message) => event("error", { code: "server_error", message, param: null }),
  };
}

/**
 * A real local HTTP server speaking OpenAI's wire format: chat completions (JSON and server-sent events
 * with a final usage chunk), the Responses API (JSON and its named events, usage in the last) and
 * embeddings. It bills like a provider: its usage counts every input field (billedPromptTokens,
 * billedResponsesPromptTokens), images and audio at a provider's rates, `n` completions of exactly the
 * bound it honours, and a prediction's tokens as completion tokens.
 */
export async function startTestUpstream(
  o: {
    /** A provider that is down: every call answers 500 ("fail"), or is never answered ("hang"). */
    always?: "fail" | "hang";
  } = {},
): Promise<TestUpstream> {
  const state = { bodies: [] as Json[], billed: [] as TestUpstream["billed"], abandoned: 0 };
  const hung = new Set<ServerResponse>();

  const server = createServer(async (req, res) => {
    res.on("close", () => {
      if (!res.writableFinished) state.abandoned++;
      hung.delete(res);
    });
    const body = await readJson(req);
    state.bodies.push(body);
    const text = textOf(body);
    if (o.always === "fail" || text.includes(FAIL)) {
      res.writeHead(500, { "content-type": "application/json" });
      const message = `internal error at https://provider.internal/v1?key=${PROVIDER_SECRET} for org-commons`;
      res.end(JSON.stringify({ error: { message, type: "server_error" } }));
      return;
    }
    if (o.always === "hang" || text.includes(HANG)) {
      hung.add(res);
      return;
    }
    if (req.url === "/v1/embeddings") {
      const input = body.input;
      const inputs: unknown[] = typeof input === "string" ? [input] : (input as unknown[]);
      const lists = inputs.every((i) => typeof i === "number") ? [inputs] : inputs;
      const prompt = lists.reduce<number>(
        (n, i) => n + (typeof i === "string" ? tokens(i) : (i as number[]).length),
        0,
      );
      const usage = { prompt_tokens: prompt, completion_tokens: 0, total_tokens: prompt };
      state.billed.push(usage);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          object: "list",
          model: body.model,
          data: lists.map((_, index) => ({ object: "embedding", index, embedding: [0.1, 0.2, 0.3] })),
          usage: { prompt_tokens: prompt, total_tokens: prompt },
        }),
      );
      return;
    }
    const responses = req.url === "/v1/responses";
    const completion = WORDS.slice(0, boundOf(body));
    const choices = Number(body.n ?? 1);
    const billedPrompt = responses ? billedResponsesPromptTokens(body) : billedPromptTokens(body);
    const prompt = billedPrompt + (text.includes(OVERBILL) ? OVERBILLED : 0);
    const completionTokens = completion.length * choices + predictionTokens(body);
    const usage = {
      prompt_tokens: prompt,
      completion_tokens: completionTokens,
      total_tokens: prompt + completionTokens,
    };
    const dialect = responses ? responsesDialect(body, usage) : chatDialect(body, usage, choices);
    if (body.stream !== true) {
      state.billed.push(usage);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(dialect.answer(decode(completion))));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(dialect.start);
    if (text.includes(ACCEPT_ONLY)) {
      // As OpenAI starts a stream: no content yet.
      res.write(dialect.delta(""));
      hung.add(res);
      return;
    }
    const stall = text.includes(STALL);
    const streamError = text.includes(STREAM_ERROR);
    for (let i = 0; i < completion.length; i++) {
      if ((stall || streamError) && i === STALL_AFTER) {
        if (streamError) {
          res.end(dialect.error(`overloaded: shard 7 of https://provider.internal/v1?key=${PROVIDER_SECRET}`));
        } else hung.add(res);
        return;
      }
      res.write(dialect.delta(decode([completion[i] as number])));
      // Yield between chunks so that the stream really arrives in pieces.
      await new Promise((resolve) => setImmediate(resolve));
    }
    state.billed.push(usage);
    res.end(dialect.end(decode(completion)));
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get bodies() {
      return state.bodies;
    },
    get billed() {
      return state.billed;
    },
    get abandoned() {
      return state.abandoned;
    },
    async close() {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/** A base URL on which nothing listens: a provider that refuses connections. */
export async function refusingUpstreamUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return `http://127.0.0.1:${port}/v1`;
}
