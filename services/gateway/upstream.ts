import { createParser, type EventSourceMessage } from "eventsource-parser";
import { type Dispatcher, Pool } from "undici";
import { AppError, isAppError } from "../shared/errors.ts";
import { createDevModel } from "./dev-model.ts";

export type JsonObject = Record<string, unknown>;

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens?: number;
  total_tokens: number;
}

const count = (n: unknown) => (typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? n : null);

/**
 * Tokens an answer's usage bills: its total, or prompt plus completion when that is more. Null when the
 * answer reports no readable usage (the caller then charges the reservation).
 */
export function billedTokens(usage: unknown): number | null {
  if (usage === null || typeof usage !== "object") return null;
  const u = usage as Record<string, unknown>;
  const total = count(u.total_tokens);
  const parts = (count(u.prompt_tokens) ?? 0) + (count(u.completion_tokens) ?? 0);
  return total === null && parts === 0 ? null : Math.max(total ?? 0, parts);
}

/**
 * An upstream's own words (an error body) as they may be logged: key-like strings, bearer tokens and
 * secret query parameters masked, at most 500 characters. Never sent to a client.
 */
function redactUpstreamText(text: string, apiKey?: string): string {
  let redacted = apiKey ? text.replaceAll(apiKey, "[redacted]") : text;
  redacted = redacted
    .replace(/\b(sk|pk|rk|key|tok)-[A-Za-z0-9_-]{6,}/g, "$1-[redacted]")
    .replace(/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [redacted]")
    .replace(/([?&](?:api[_-]?key|key|token|access_token|sig|signature|secret)=)[^&\s"']+/gi, "$1[redacted]");
  return redacted.slice(0, 500);
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
  /**
   * Resolves once the upstream accepted the call (answered 200: from then on it bills at least the
   * prompt), to its chunks; stopping the iteration closes the upstream request.
   */
  chatStream(body: JsonObject, signal: AbortSignal): Promise<AsyncIterable<ChatChunk>>;
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

/**
 * Our own words about an upstream failure: they may reach the client. The upstream's words (`said`) go
 * only to the logs, redacted: they can name the provider's internals, keys, URLs.
 */
function upstreamError(message: string, cause?: unknown, detail: { status?: number; said?: string } = {}): AppError {
  return new AppError("UPSTREAM_ERROR", message, { cause, details: detail });
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
        const said = redactUpstreamText(await response.body.text().catch(() => ""), apiKey);
        throw upstreamError(`upstream answered ${response.statusCode}`, undefined, {
          status: response.statusCode,
          said,
        });
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
    async chatStream(body, signal) {
      return chunksOf(await send("/chat/completions", body, signal, signal));
    },
    close: () => pool.close(),
  };

  async function* chunksOf(response: Dispatcher.ResponseData): AsyncIterable<ChatChunk> {
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => events.push(e) });
    const decoder = new TextDecoder();
    try {
      for await (const bytes of response.body) {
        parser.feed(decoder.decode(bytes as Buffer, { stream: true }));
        while (events.length > 0) {
          const data = (events.shift() as EventSourceMessage).data;
          if (data === "[DONE]") return;
          const chunk = JSON.parse(data) as ChatChunk;
          if ("error" in chunk) {
            throw upstreamError("upstream reported an error mid-stream", undefined, {
              said: redactUpstreamText(data, apiKey),
            });
          }
          yield chunk;
        }
      }
    } catch (cause) {
      if (isAppError(cause)) throw cause;
      throw upstreamError(
        isTimeout(cause) ? `upstream stream went silent for ${timeoutMs} ms` : "upstream stream failed",
        cause,
      );
    } finally {
      if (!response.body.destroyed) response.body.destroy();
    }
    throw upstreamError("upstream stream ended without [DONE]");
  }
}
