import { createHash } from "node:crypto";
import type { ChatRequest, EmbeddingsRequest } from "./request-body.ts";
import type { ResponsesRequest } from "./responses-body.ts";
import {
  chatInputText,
  countTextTokens,
  embeddingInputs,
  estimateChatInputTokens,
  estimateEmbeddingTokens,
  estimateResponsesInputTokens,
  firstTokens,
  responsesInputText,
} from "./tokens.ts";
import type { JsonObject, StreamEvent, Upstream } from "./upstream.ts";

/** How the local development model names itself in every answer, so nobody mistakes it for an AI. */
export const DEV_MODEL_LABEL = "commons-dev (local development model)";
const EMBEDDING_DIMENSIONS = 16;
const DEFAULT_COMPLETION_TOKENS = 64;

/** The deterministic reply: the same request always gets the same text, `maxTokens` tokens at most. */
function replyText(input: string, maxTokens: number): string {
  const digest = createHash("sha256").update(input).digest("hex").slice(0, 12);
  const base = `This is ${DEV_MODEL_LABEL}, not an AI: it answers every request deterministically (request ${digest}). `;
  return firstTokens(base.repeat(1 + Math.ceil(maxTokens / 16)), maxTokens);
}

function vector(text: string): number[] {
  const bytes = createHash("sha256").update(text).digest();
  return Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => ((bytes[i] as number) - 127.5) / 127.5);
}

/** The provider name of the development model in audit records and metrics. */
export const DEV_MODEL_PROVIDER = "commons-dev";

const usageOf = (r: { promptTokens: number; completionTokens: number }) => ({
  prompt_tokens: r.promptTokens,
  completion_tokens: r.completionTokens,
  total_tokens: r.promptTokens + r.completionTokens,
});

/**
 * The upstream used when no provider is configured: it runs in the process, answers any model id as-is,
 * writes deterministic text and reports real token counts (o200k_base), for chat completions, the
 * Responses API and embeddings, streaming included.
 */
export function createDevModel(now: () => number = Date.now): Upstream {
  // The gateway forwards only requests it validated (request-body.ts, responses-body.ts).
  const complete = (raw: JsonObject) => {
    const chat = raw.messages !== undefined;
    const body = raw as ChatRequest & ResponsesRequest;
    const maxTokens =
      (chat ? (body.max_tokens ?? body.max_completion_tokens) : body.max_output_tokens) ?? DEFAULT_COMPLETION_TOKENS;
    const input = chat ? chatInputText(body) : responsesInputText(body);
    const text = replyText(input, maxTokens);
    const promptTokens = chat ? estimateChatInputTokens(body) : estimateResponsesInputTokens(body);
    const completionTokens = countTextTokens(text);
    const digest = createHash("sha256").update(text).digest("hex").slice(0, 16);
    return { digest, text, promptTokens, completionTokens, created: Math.floor(now() / 1000), model: body.model };
  };
  type Completion = ReturnType<typeof complete>;

  const chatCompletion = (r: Completion) => ({
    id: `chatcmpl-dev-${r.digest}`,
    object: "chat.completion",
    created: r.created,
    model: r.model,
    system_fingerprint: DEV_MODEL_LABEL,
    choices: [{ index: 0, message: { role: "assistant", content: r.text }, finish_reason: "stop", logprobs: null }],
    usage: usageOf(r),
  });

  const message = (r: Completion, text: string, status: string) => ({
    type: "message",
    id: `msg_dev_${r.digest}`,
    status,
    role: "assistant",
    content: text === "" && status === "in_progress" ? [] : [{ type: "output_text", text, annotations: [] }],
  });
  /** A Response object as the Responses API returns it, in progress (no output yet) or completed. */
  const response = (r: Completion, completed: boolean) => ({
    id: `resp_dev_${r.digest}`,
    object: "response",
    created_at: r.created,
    status: completed ? "completed" : "in_progress",
    model: r.model,
    output: completed ? [message(r, r.text, "completed")] : [],
    usage: completed
      ? {
          input_tokens: r.promptTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: r.completionTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: r.promptTokens + r.completionTokens,
        }
      : null,
  });

  const embeddings = (raw: JsonObject) => {
    const body = raw as EmbeddingsRequest;
    const inputs = embeddingInputs(body.input);
    const tokens = estimateEmbeddingTokens(inputs);
    return {
      object: "list",
      model: body.model,
      data: inputs.map((i, index) => ({
        object: "embedding",
        index,
        embedding: vector(typeof i === "string" ? i : i.join(",")),
      })),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  };

  const served = <T>(value: T) => ({ provider: DEV_MODEL_PROVIDER, value });
  return {
    label: DEV_MODEL_LABEL,
    serves: () => true,
    async json(path, body) {
      if (path === "/embeddings") return served(embeddings(body));
      return served(path === "/responses" ? response(complete(body), true) : chatCompletion(complete(body)));
    },
    async stream(path, body) {
      const r = complete(body);
      return served(path === "/responses" ? responseEvents(r) : chatChunks(r));
    },
    async close() {},
  };

  async function* chatChunks(r: Completion): AsyncIterable<StreamEvent> {
    const chunk = (choices: JsonObject[], usage: JsonObject | null = null): StreamEvent => ({
      event: undefined,
      data: {
        id: `chatcmpl-dev-${r.digest}`,
        object: "chat.completion.chunk",
        created: r.created,
        model: r.model,
        system_fingerprint: DEV_MODEL_LABEL,
        choices,
        usage,
      },
    });
    yield chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
    for (const word of words(r.text)) yield chunk([{ index: 0, delta: { content: word }, finish_reason: null }]);
    yield chunk([{ index: 0, delta: {}, finish_reason: "stop" }]);
    yield chunk([], usageOf(r));
  }

  /** The Responses API's streamed events for one text output, as OpenAI sends them. */
  async function* responseEvents(r: Completion): AsyncIterable<StreamEvent> {
    let sequence = 0;
    const event = (type: string, fields: JsonObject): StreamEvent => ({
      event: type,
      data: { type, sequence_number: sequence++, ...fields },
    });
    const at = { item_id: `msg_dev_${r.digest}`, output_index: 0 };
    const part = (text: string) => ({ type: "output_text", text, annotations: [] });
    yield event("response.created", { response: response(r, false) });
    yield event("response.output_item.added", { output_index: 0, item: message(r, "", "in_progress") });
    yield event("response.content_part.added", { ...at, content_index: 0, part: part("") });
    for (const word of words(r.text))
      yield event("response.output_text.delta", { ...at, content_index: 0, delta: word, logprobs: [] });
    yield event("response.output_text.done", { ...at, content_index: 0, text: r.text, logprobs: [] });
    yield event("response.content_part.done", { ...at, content_index: 0, part: part(r.text) });
    yield event("response.output_item.done", { output_index: 0, item: message(r, r.text, "completed") });
    yield event("response.completed", { response: response(r, true) });
  }
}

const words = (text: string) => text.match(/\S+\s*/g) ?? [];
