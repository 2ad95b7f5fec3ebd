import type { FastifyBaseLogger, FastifyReply } from "fastify";
import type { Logger } from "pino";
import { isAppError } from "../shared/errors.ts";
import type { Metrics } from "../shared/metrics.ts";
import { requestHashOf, responseHasher } from "./body-hash.ts";
import type { Admission, Enforcer } from "./enforcer.ts";
import { openAiError, sendError, upstreamFailure } from "./openai-errors.ts";
import { countTextTokens } from "./tokens.ts";
import {
  billedTokens,
  completionTokens,
  type JsonObject,
  type StreamEvent,
  type Upstream,
  type UpstreamPath,
} from "./upstream.ts";

export interface ForwardDeps {
  enforcer: Enforcer;
  upstream: Upstream;
  metrics: Metrics;
  /** RECEIPT_BODY_HASHES: whether receipts carry the sha256 of the answers (body-hash.ts). */
  hashBodies: boolean;
}

/**
 * Log lines of this call carry the audit record's id: logs and audit trail join on it. The binding goes
 * on the request's own logger (fastify makes one per request), not on a child of it: a pino child per
 * call cost about 10 µs of CPU (its level methods are rebuilt), setBindings under 1 µs. The server's
 * logger itself (no logger per request) or a logger without setBindings gets a child, as before.
 */
export function bindAuditId(reply: FastifyReply, auditId: string): void {
  const log = reply.log as FastifyBaseLogger & Partial<Pick<Logger, "setBindings">>;
  if (log !== reply.server.log && log.setBindings) log.setBindings({ auditId });
  else reply.log = log.child({ auditId });
}

/** The provider named by an upstream failure (the last one tried), or null when none was. */
const providerOf = (error: unknown): string | null =>
  isAppError(error) && typeof error.details?.provider === "string" ? error.details.provider : null;

/** The endpoint label of the upstream latency metric: its path's last segment. */
const endpointLabel = (path: UpstreamPath) => (path === "/chat/completions" ? "chat" : path.slice(1));

/**
 * Forwards an admitted JSON call, charges what the upstream billed (its usage; the reservation when it
 * reports none) and answers with the upstream's answer. An upstream failure releases the reservation
 * (charged 0) and answers UPSTREAM_ERROR in our words. `failed` says whether a 200 answer reports a
 * failure of its own (a Responses API response with status "failed"): it is charged its usage and
 * answered as an upstream failure, its words never relayed.
 */
export async function forwardJson(
  reply: FastifyReply,
  admission: Admission,
  path: UpstreamPath,
  forward: JsonObject,
  { enforcer, upstream, metrics, hashBodies }: ForwardDeps,
  failed: (answer: JsonObject) => boolean = () => false,
) {
  const endpoint = endpointLabel(path);
  const started = performance.now();
  let answer: JsonObject;
  let provider: string;
  try {
    ({ value: answer, provider } = await upstream.json(path, forward, new AbortController().signal));
  } catch (error) {
    const upstreamMs = performance.now() - started;
    const failedProvider = providerOf(error);
    metrics.upstreamLatency.observe(
      { endpoint, outcome: "error", provider: failedProvider ?? "none" },
      upstreamMs / 1000,
    );
    const settled = await enforcer.settle(admission, {
      charged: 0,
      outcome: "UPSTREAM_ERROR",
      upstreamMs,
      provider: failedProvider,
      completionTokens: null,
      requestHash: requestHashOf(reply.request),
      responseHash: null,
    });
    reply.headers({ ...admission.headers, ...settled });
    return sendError(reply, "UPSTREAM_ERROR", upstreamFailure(reply, error, admission.requestId));
  }
  const upstreamMs = performance.now() - started;
  const ok = !failed(answer);
  metrics.upstreamLatency.observe({ endpoint, outcome: ok ? "ok" : "error", provider }, upstreamMs / 1000);
  // Without a usage report, the worst case that was reserved is what the call cost.
  const charged = billedTokens(answer.usage) ?? (ok ? admission.decision.reserve : 0);
  // Serialized once, here: the receipt's hash is of the very bytes sent.
  const body = ok ? JSON.stringify(answer) : null;
  const hasher = responseHasher(hashBodies);
  if (body !== null) hasher.update(body);
  const settled = await enforcer.settle(admission, {
    charged,
    outcome: ok ? "COMPLETED" : "UPSTREAM_ERROR",
    upstreamMs,
    provider,
    completionTokens: completionTokens(answer.usage),
    requestHash: requestHashOf(reply.request),
    responseHash: body === null ? null : hasher.digest(),
  });
  reply.headers({ ...admission.headers, ...settled });
  if (body === null) {
    reply.log.warn({ provider, status: answer.status }, "the upstream answered a failed response");
    return sendError(reply, "UPSTREAM_ERROR", `the upstream failed the response (request ${admission.requestId})`);
  }
  return reply.type("application/json; charset=utf-8").send(body);
}

/** How one endpoint's stream reads and writes its events (chat chunks, or the Responses API's events). */
export interface StreamDialect {
  path: UpstreamPath;
  /** The text of output an event delivers, counted when the upstream reports no usage. */
  produced(data: JsonObject): string;
  /** The usage an event reports, if it reports one. */
  usage(data: JsonObject): unknown;
  /** The event as the client gets it (server-sent event text), or null when it is not passed on. */
  write(event: StreamEvent): string | null;
  /** Our error, as an event of this stream. */
  error(code: "UPSTREAM_ERROR" | "DATABASE_ERROR", message: string): string;
  /** What ends a completed stream, if anything does. */
  done: string | null;
}

/**
 * Streams the upstream's events to the client as server-sent events. Headers wait for the first event,
 * so an upstream that fails at once still gets a proper error response (and another provider may be
 * tried before it). On a client that goes away, the upstream request is closed and the call is charged
 * what was produced until then, and at least its prompt once the upstream accepted it (the upstream bills
 * that much).
 */
export async function forwardStream(
  reply: FastifyReply,
  admission: Admission,
  forward: JsonObject,
  promptTokens: number,
  dialect: StreamDialect,
  { enforcer, upstream, metrics, hashBodies }: ForwardDeps,
) {
  const controller = new AbortController();
  const res = reply.raw;
  const onClose = () => {
    if (!res.writableFinished) controller.abort();
  };
  res.on("close", onClose);
  const upstreamStarted = performance.now();
  let provider: string | null = null;
  let accepted = false;
  let produced = "";
  let usage: unknown = null;
  let failure: unknown = null;
  const sent = responseHasher(hashBodies);
  const outcome = () => (controller.signal.aborted ? "CLIENT_CLOSED" : failure ? "UPSTREAM_ERROR" : "COMPLETED");
  const settle = () => {
    res.off("close", onClose);
    const upstreamMs = performance.now() - upstreamStarted;
    metrics.upstreamLatency.observe(
      {
        endpoint: `${endpointLabel(dialect.path)}_stream`,
        outcome: outcome() === "COMPLETED" ? "ok" : "error",
        provider: provider ?? "none",
      },
      upstreamMs / 1000,
    );
    // The upstream's own count when it sent one; otherwise what it bills at least: the prompt once it
    // accepted the call, and what reached the client, counted here.
    const charged = billedTokens(usage) ?? (accepted ? promptTokens + countTextTokens(produced) : 0);
    return enforcer.settle(admission, {
      charged,
      outcome: outcome(),
      upstreamMs,
      provider,
      completionTokens: completionTokens(usage),
      requestHash: requestHashOf(reply.request),
      // The events written before the settlement: the stream's terminator follows it.
      responseHash: accepted ? sent.digest() : null,
    });
  };

  let events: AsyncIterator<StreamEvent>;
  let next: IteratorResult<StreamEvent>;
  try {
    const served = await upstream.stream(dialect.path, forward, controller.signal);
    provider = served.provider;
    events = served.value[Symbol.asyncIterator]();
    accepted = true;
    next = await events.next();
  } catch (error) {
    failure = error;
    provider ??= providerOf(error);
    reply.headers({ ...admission.headers, ...(await settle()) });
    // A client that went away gets nothing: only a real upstream failure is logged as one.
    const message =
      outcome() === "CLIENT_CLOSED"
        ? `the client closed the call (request ${admission.requestId})`
        : upstreamFailure(reply, error, admission.requestId);
    return sendError(reply, "UPSTREAM_ERROR", message);
  }

  reply.hijack();
  res.writeHead(200, {
    ...admission.headers,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  try {
    while (!next.done) {
      const { data } = next.value;
      produced += dialect.produced(data);
      usage = dialect.usage(data) ?? usage;
      const text = dialect.write(next.value);
      if (!controller.signal.aborted && text !== null) {
        sent.update(text);
        res.write(text);
      }
      next = await events.next();
    }
  } catch (error) {
    failure = error;
    await events.return?.(undefined).catch(() => {});
  }
  try {
    await settle();
  } catch (error) {
    // The headers are gone; the reservation stays held (the worst case is charged, never more).
    reply.log.error({ err: error }, "settling a streamed call failed");
    res.end(dialect.error("DATABASE_ERROR", `the call's record could not be written (request ${admission.requestId})`));
    return;
  }
  if (outcome() === "UPSTREAM_ERROR") {
    res.write(dialect.error("UPSTREAM_ERROR", upstreamFailure(reply, failure, admission.requestId)));
  }
  if (outcome() === "COMPLETED" && dialect.done !== null) res.write(dialect.done);
  res.end();
}

/** Chat completions' chunks: `data:` lines, errors in OpenAI's error shape, `[DONE]` at the end. */
export function chatDialect(clientWantsUsage: boolean): StreamDialect {
  type Chunk = { choices?: { delta?: { content?: string | null } }[]; usage?: unknown };
  return {
    path: "/chat/completions",
    produced: (data) => ((data as Chunk).choices ?? []).map((c) => c.delta?.content ?? "").join(""),
    usage: (data) => (data as Chunk).usage ?? undefined,
    write({ data }) {
      const chunk = data as Chunk;
      // The usage chunk was asked for the ledger; a client that did not ask for it does not get it.
      const usageOnly = chunk.usage && (chunk.choices?.length ?? 0) === 0;
      return clientWantsUsage || !usageOnly ? `data: ${JSON.stringify(data)}\n\n` : null;
    },
    error: (code, message) => `data: ${JSON.stringify(openAiError(code, message))}\n\n`,
    done: "data: [DONE]\n\n",
  };
}

/** Deltas of the Responses API that carry output the upstream bills (text, tool call arguments, refusals). */
const DELTA_EVENTS = new Set([
  "response.output_text.delta",
  "response.refusal.delta",
  "response.function_call_arguments.delta",
  "response.custom_tool_call_input.delta",
  "response.reasoning_summary_text.delta",
  "response.reasoning_text.delta",
]);

/**
 * The Responses API's named events, passed on as they came; usage comes in the final event
 * (`response.completed`, or `response.incomplete` when max_output_tokens ran out); our errors are an
 * `error` event (OpenAI's shape: type, code, message, param), which the openai SDK raises as an APIError.
 */
export const responsesDialect: StreamDialect = {
  path: "/responses",
  produced: (data) => (DELTA_EVENTS.has(String(data.type)) && typeof data.delta === "string" ? data.delta : ""),
  usage: (data) => (data.response as { usage?: unknown } | undefined)?.usage ?? undefined,
  write: ({ event, data }) => `event: ${event ?? String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`,
  error: (code, message) => {
    const { error } = openAiError(code, message);
    return `event: error\ndata: ${JSON.stringify({ type: "error", code, message, param: null, error })}\n\n`;
  },
  done: null,
};
