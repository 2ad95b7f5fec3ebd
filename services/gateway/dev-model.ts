import { createHash } from "node:crypto";
import type { ChatRequest, EmbeddingsRequest } from "./request-body.ts";
import {
  chatInputText,
  countTextTokens,
  embeddingInputs,
  estimateChatInputTokens,
  estimateEmbeddingTokens,
  firstTokens,
} from "./tokens.ts";
import type { ChatChunk, TokenUsage, Upstream } from "./upstream.ts";

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

/**
 * The upstream used when UPSTREAM_URL is unset: it runs in the process, answers any model id as-is,
 * writes deterministic text and reports real token counts (o200k_base), streaming included.
 */
export function createDevModel(now: () => number = Date.now): Upstream {
  // The gateway forwards only requests it validated (request-body.ts).
  const complete = (raw: unknown) => {
    const body = raw as ChatRequest;
    const maxTokens = body.max_tokens ?? body.max_completion_tokens ?? DEFAULT_COMPLETION_TOKENS;
    const text = replyText(chatInputText(body), maxTokens);
    const promptTokens = estimateChatInputTokens(body);
    const completionTokens = countTextTokens(text);
    const id = `chatcmpl-dev-${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
    return { id, text, promptTokens, completionTokens, created: Math.floor(now() / 1000), model: body.model };
  };
  return {
    label: DEV_MODEL_LABEL,
    async chat(body) {
      const r = complete(body);
      return {
        id: r.id,
        object: "chat.completion",
        created: r.created,
        model: r.model,
        system_fingerprint: DEV_MODEL_LABEL,
        choices: [{ index: 0, message: { role: "assistant", content: r.text }, finish_reason: "stop", logprobs: null }],
        usage: {
          prompt_tokens: r.promptTokens,
          completion_tokens: r.completionTokens,
          total_tokens: r.promptTokens + r.completionTokens,
        },
      };
    },
    async chatStream(body) {
      return chunks(complete(body));
    },
    async embeddings(raw) {
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
    },
    async close() {},
  };

  async function* chunks(r: ReturnType<typeof complete>): AsyncIterable<ChatChunk> {
    const chunk = (choices: NonNullable<ChatChunk["choices"]>, usage: TokenUsage | null = null): ChatChunk => ({
      id: r.id,
      object: "chat.completion.chunk",
      created: r.created,
      model: r.model,
      system_fingerprint: DEV_MODEL_LABEL,
      choices,
      usage,
    });
    yield chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
    for (const word of r.text.match(/\S+\s*/g) ?? []) {
      yield chunk([{ index: 0, delta: { content: word }, finish_reason: null }]);
    }
    yield chunk([{ index: 0, delta: {}, finish_reason: "stop" }]);
    yield chunk([], {
      prompt_tokens: r.promptTokens,
      completion_tokens: r.completionTokens,
      total_tokens: r.promptTokens + r.completionTokens,
    });
  }
}
