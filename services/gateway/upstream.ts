import { createParser, type EventSourceMessage } from "eventsource-parser";
import { Pool } from "undici";
import { AppError, isAppError } from "../shared/errors.ts";
import { createDevModel } from "./dev-model.ts";

export type JsonObject = Record<string, unknown>;

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens?: number;
  total_tokens: number;
}

/** One server-sent chunk of a streamed chat completion (the last one carries `usage`). */
export type ChatChunk = JsonObject & {
  choices?: { index?: number; delta?: { role?: string; content?: string | null }; finish_reason?: string | null }[];
  usage?: TokenUsage | null;
};

/** An OpenAI-compatible model provider. Every failure is an AppError UPSTREAM_ERROR. */
export interface Upstream {
  /** Shown to operators and, for the development model, in every answer. */
  readonly label: string;
  chat(body: JsonObject, signal: AbortSignal): Promise<JsonObject>;
  /** Yields each chunk; stopping the iteration closes the upstream request. */
  chatStream(body: JsonObject, signal: AbortSignal): AsyncIterable<ChatChunk>;
  embeddings(body: JsonObject, signal: AbortSignal): Promise<JsonObject>;
  close(): Promise<void>;
}

/**
 * The upstream at `url` (an OpenAI-compatible base URL such as https://api.openai.com/v1) through an
 * undici connection pool, or, without a url, the local development model.
 */
export function createUpstream(o: { url?: string; apiKey?: string; timeoutMs: number }): Upstream {
  if (!o.url) return createDevModel();
  return createHttpUpstream(o.url, o.apiKey, o.timeoutMs);
}

function upstreamError(message: string, cause?: unknown, status?: number): AppError {
  return new AppError("UPSTREAM_ERROR", message, { cause, details: status === undefined ? {} : { status } });
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}

function createHttpUpstream(url: string, apiKey: string | undefined, timeoutMs: number): Upstream {
  const base = new URL(url);
  const basePath = base.pathname.replace(/\/+$/, "");
  const pool = new Pool(base.origin, {
    connections: 64,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;

  /**
   * A JSON answer must arrive whole within timeoutMs; a stream may run longer, as long as it never
   * stays silent for timeoutMs (undici's headers and body timeouts). `deadline` aborts the request
   * when either the caller's `signal` or the JSON deadline fires.
   */
  const send = async (path: string, body: JsonObject, signal: AbortSignal, deadline: AbortSignal) => {
    try {
      const response = await pool.request({
        path: `${basePath}${path}`,
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: deadline,
      });
      if (response.statusCode >= 400) {
        const text = await response.body.text().catch(() => "");
        throw upstreamError(
          `upstream answered ${response.statusCode}: ${text.slice(0, 200)}`,
          undefined,
          response.statusCode,
        );
      }
      return response;
    } catch (cause) {
      if (isAppError(cause)) throw cause;
      throw upstreamError(
        (deadline.aborted && !signal.aborted) || isTimeout(cause)
          ? `upstream timed out after ${timeoutMs} ms`
          : "upstream request failed",
        cause,
      );
    }
  };

  /**
   * The JSON deadline is a timer cleared once the answer is in: AbortSignal.timeout with
   * AbortSignal.any left every call a pending timer that later fired an abort event with its
   * DOMException (about 4% of the gateway's CPU at saturation, bench/gateway.bench.ts profiled).
   */
  const json = async (path: string, body: JsonObject, signal: AbortSignal) => {
    const deadline = new AbortController();
    const cancel = () => deadline.abort(signal.reason);
    if (signal.aborted) cancel();
    signal.addEventListener("abort", cancel, { once: true });
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    try {
      const response = await send(path, body, signal, deadline.signal);
      try {
        return (await response.body.json()) as JsonObject;
      } catch (cause) {
        throw upstreamError(
          deadline.signal.aborted ? `upstream timed out after ${timeoutMs} ms` : "upstream sent an unreadable body",
          cause,
        );
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", cancel);
    }
  };

  return {
    label: base.origin,
    chat: (body, signal) => json("/chat/completions", body, signal),
    embeddings: (body, signal) => json("/embeddings", body, signal),
    async *chatStream(body, signal) {
      const response = await send("/chat/completions", body, signal, signal);
      const events: EventSourceMessage[] = [];
      const parser = createParser({ onEvent: (e) => events.push(e) });
      const decoder = new TextDecoder();
      try {
        for await (const bytes of response.body) {
          parser.feed(decoder.decode(bytes as Buffer, { stream: true }));
          while (events.length > 0) {
            const data = (events.shift() as EventSourceMessage).data;
            if (data === "[DONE]") return;
            yield JSON.parse(data) as ChatChunk;
          }
        }
      } catch (cause) {
        throw upstreamError(
          isTimeout(cause) ? `upstream stream went silent for ${timeoutMs} ms` : "upstream stream failed",
          cause,
        );
      } finally {
        if (!response.body.destroyed) response.body.destroy();
      }
      throw upstreamError("upstream stream ended without [DONE]");
    },
    close: () => pool.close(),
  };
}
