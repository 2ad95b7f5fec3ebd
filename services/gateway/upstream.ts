import { createParser, type EventSourceMessage } from "eventsource-parser";
import { type Dispatcher, Pool } from "undici";
import { AppError, isAppError } from "../shared/errors.ts";
import type { ProviderSettings } from "../shared/upstreams-config.ts";
import { createDevModel } from "./dev-model.ts";
import { createProviderRouter, type Provider } from "./providers.ts";

export type JsonObject = Record<string, unknown>;

/** The upstream endpoints the gateway forwards to, relative to a provider's base URL. */
export type UpstreamPath = "/chat/completions" | "/embeddings" | "/responses";

const count = (n: unknown) => (typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? n : null);

/**
 * Tokens an answer's usage bills: its total, or input plus output when that is more (chat and embeddings
 * name them prompt_tokens and completion_tokens, the Responses API input_tokens and output_tokens). Null
 * when the answer reports no readable usage (the caller then charges the reservation).
 */
export function billedTokens(usage: unknown): number | null {
  if (usage === null || typeof usage !== "object") return null;
  const u = usage as Record<string, unknown>;
  const total = count(u.total_tokens);
  const parts =
    (count(u.prompt_tokens) ?? count(u.input_tokens) ?? 0) +
    (count(u.completion_tokens) ?? count(u.output_tokens) ?? 0);
  return total === null && parts === 0 ? null : Math.max(total ?? 0, parts);
}

/** The completion's tokens of a usage report (chat's completion_tokens, the Responses API's output_tokens). */
export function completionTokens(usage: unknown): number | null {
  if (usage === null || typeof usage !== "object") return null;
  const u = usage as Record<string, unknown>;
  return count(u.completion_tokens) ?? count(u.output_tokens);
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

/** One server-sent event of a streamed call: its `event:` name (the Responses API names each) and data. */
export interface StreamEvent {
  event: string | undefined;
  data: JsonObject;
}

/** What a provider answered, and which provider it was (for the audit record and the metrics). */
export interface Served<T> {
  provider: string;
  value: T;
}

/** An OpenAI-compatible model provider, or several. Every failure is an AppError UPSTREAM_ERROR. */
export interface Upstream {
  /** Shown to operators and, for the development model, in every answer. */
  readonly label: string;
  /** Whether some provider serves `model` (a call for a model none serves is refused before any reservation). */
  serves(model: string): boolean;
  json(path: UpstreamPath, body: JsonObject, signal: AbortSignal): Promise<Served<JsonObject>>;
  /**
   * Resolves once a provider accepted the call (answered 200: from then on it bills at least the
   * prompt), to its events; stopping the iteration closes the upstream request.
   */
  stream(path: UpstreamPath, body: JsonObject, signal: AbortSignal): Promise<Served<AsyncIterable<StreamEvent>>>;
  close(): Promise<void>;
}

/**
 * The providers of `providers` (weighted, with fallback: providers.ts), or the one at `url` (an
 * OpenAI-compatible base URL such as https://api.openai.com/v1), or, with neither, the local development
 * model. `onFallback` hears each provider that failed a call another one then tried.
 */
export function createUpstream(o: {
  providers?: readonly ProviderSettings[] | undefined;
  url?: string | undefined;
  apiKey?: string | undefined;
  timeoutMs: number;
  onFallback?: (provider: string, error: AppError) => void;
}): Upstream {
  const settings: readonly ProviderSettings[] =
    o.providers ??
    (o.url ? [{ name: new URL(o.url).host, url: o.url, apiKey: o.apiKey, weight: 1, models: null }] : []);
  if (settings.length === 0) return createDevModel();
  const providers: Provider[] = settings.map((s) => ({
    name: s.name,
    weight: s.weight,
    models: s.models === null ? null : new Set(s.models),
    client: createHttpProvider(s.name, s.url, s.apiKey, o.timeoutMs),
  }));
  return createProviderRouter(providers, o.onFallback ? { onFallback: o.onFallback } : {});
}

/**
 * Our own words about an upstream failure: they may reach the client. The upstream's words (`said`) go
 * only to the logs, redacted: they can name the provider's internals, keys, URLs. `beforeResponse`: the
 * provider failed before it answered a status (nothing was accepted, another provider may be tried).
 */
function upstreamError(
  provider: string,
  message: string,
  cause?: unknown,
  detail: { status?: number; said?: string; beforeResponse?: boolean } = {},
): AppError {
  return new AppError("UPSTREAM_ERROR", message, { cause, details: { provider, ...detail } });
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}

/** Events that end a Responses API stream (it sends no [DONE]). */
const FINAL_RESPONSE_EVENTS = new Set(["response.completed", "response.incomplete"]);
/** Events in which a provider reports a failure: its words are logged, never relayed. */
const FAILURE_EVENTS = new Set(["error", "response.failed"]);

/** One provider's HTTP client: an undici connection pool to its base URL. */
export interface ProviderClient {
  json(path: UpstreamPath, body: JsonObject, signal: AbortSignal): Promise<JsonObject>;
  stream(path: UpstreamPath, body: JsonObject, signal: AbortSignal): Promise<AsyncIterable<StreamEvent>>;
  close(): Promise<void>;
}

function createHttpProvider(name: string, url: string, apiKey: string | undefined, timeoutMs: number): ProviderClient {
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
  const failed = (
    message: string,
    cause?: unknown,
    detail: { status?: number; said?: string; beforeResponse?: boolean } = {},
  ) => upstreamError(name, message, cause, detail);

  /**
   * A JSON answer must arrive whole within timeoutMs; a stream may run longer, as long as it never
   * stays silent for timeoutMs (undici's headers and body timeouts). `deadline` aborts the request
   * when either the caller's `signal` or the JSON deadline fires.
   */
  const send = async (path: UpstreamPath, body: JsonObject, signal: AbortSignal, deadline: AbortSignal) => {
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
        throw failed(`upstream answered ${response.statusCode}`, undefined, {
          status: response.statusCode,
          said,
          beforeResponse: true,
        });
      }
      return response;
    } catch (cause) {
      if (isAppError(cause)) throw cause;
      throw failed(
        (deadline.aborted && !signal.aborted) || isTimeout(cause)
          ? `upstream timed out after ${timeoutMs} ms`
          : "upstream request failed",
        cause,
        { beforeResponse: true },
      );
    }
  };

  /**
   * The JSON deadline is a timer cleared once the answer is in: AbortSignal.timeout with
   * AbortSignal.any left every call a pending timer that later fired an abort event with its
   * DOMException (about 4% of the gateway's CPU at saturation, bench/gateway.bench.ts profiled).
   */
  const json = async (path: UpstreamPath, body: JsonObject, signal: AbortSignal) => {
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
        throw failed(
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
    json,
    async stream(path, body, signal) {
      return eventsOf(await send(path, body, signal, signal));
    },
    close: () => pool.close(),
  };

  /**
   * The events of a stream until its end: `[DONE]` for chat completions, a final event for the Responses
   * API. A stream that stops before its end, or whose provider reports a failure in it, fails.
   */
  async function* eventsOf(response: Dispatcher.ResponseData): AsyncIterable<StreamEvent> {
    const messages: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => messages.push(e) });
    const decoder = new TextDecoder();
    try {
      for await (const bytes of response.body) {
        parser.feed(decoder.decode(bytes as Buffer, { stream: true }));
        while (messages.length > 0) {
          const message = messages.shift() as EventSourceMessage;
          if (message.data === "[DONE]") return;
          const data = JSON.parse(message.data) as JsonObject;
          const type = message.event ?? (typeof data.type === "string" ? data.type : undefined);
          if ("error" in data || (type !== undefined && FAILURE_EVENTS.has(type))) {
            throw failed("upstream reported an error mid-stream", undefined, {
              said: redactUpstreamText(message.data, apiKey),
            });
          }
          yield { event: message.event, data };
          if (type !== undefined && FINAL_RESPONSE_EVENTS.has(type)) return;
        }
      }
    } catch (cause) {
      if (isAppError(cause)) throw cause;
      throw failed(
        isTimeout(cause) ? `upstream stream went silent for ${timeoutMs} ms` : "upstream stream failed",
        cause,
      );
    } finally {
      if (!response.body.destroyed) response.body.destroy();
    }
    throw failed("upstream stream ended before its final event");
  }
}
