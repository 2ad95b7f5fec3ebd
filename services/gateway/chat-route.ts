import type { FastifyInstance, FastifyReply } from "fastify";
import { normalizeContent } from "../policy/snapshot.ts";
import type { Metrics } from "../shared/metrics.ts";
import type { Admission, Enforcer } from "./enforcer.ts";
import { openAiError, sendError } from "./openai-errors.ts";
import { declaredPurpose, parseChatBody } from "./request-body.ts";
import { chatInputText, countTextTokens, estimateChatPromptTokens } from "./tokens.ts";
import type { ChatChunk, JsonObject, TokenUsage, Upstream } from "./upstream.ts";

interface ChatDeps {
  enforcer: Enforcer;
  upstream: Upstream;
  metrics: Metrics;
}

/** The request as the upstream gets it: the purpose is ours, not the upstream's business. */
function forwardable(raw: JsonObject): JsonObject {
  const metadata = raw.metadata as JsonObject | null | undefined;
  if (!metadata || typeof metadata !== "object" || !("purpose" in metadata)) return raw;
  const { purpose: _purpose, ...rest } = metadata;
  const { metadata: _metadata, ...withoutMetadata } = raw;
  return Object.keys(rest).length > 0 ? { ...withoutMetadata, metadata: rest } : withoutMetadata;
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** POST /v1/chat/completions: judged, reserved, forwarded (JSON or server-sent events), settled. */
export function registerChatRoute(app: FastifyInstance, { enforcer, upstream, metrics }: ChatDeps) {
  app.post("/v1/chat/completions", async (request, reply) => {
    const body = parseChatBody(request.body);
    const promptTokens = estimateChatPromptTokens(body.messages);
    const admission = await enforcer.admit({
      endpoint: "chat.completions",
      authorization: request.headers.authorization,
      modelId: body.model,
      purpose: declaredPurpose(request.headers, body.raw),
      content: normalizeContent(chatInputText(body.messages)),
      promptTokens,
      maxTokens: body.maxTokens,
      // A stream's first bytes go out before its settlement: its admission must be flushed first.
      answeredAfterSettlement: !body.stream,
    });
    // Log lines of this call carry the audit record's id: logs and audit trail join on it.
    reply.log = reply.log.child({ auditId: admission.requestId });
    if (!admission.admitted) {
      reply.headers(admission.headers);
      return sendError(reply, admission.reason, admission.message);
    }
    // The upstream may produce no more than was reserved for.
    const forward: JsonObject = { ...forwardable(body.raw), [body.maxTokensField]: admission.decision.maxTokens };
    if (body.stream) {
      const options = body.raw.stream_options as JsonObject | undefined;
      forward.stream_options = { ...options, include_usage: true };
      const clientWantsUsage = options?.include_usage === true;
      return streamChat(reply, admission, forward, promptTokens, clientWantsUsage, { enforcer, upstream, metrics });
    }

    const upstreamStarted = performance.now();
    let answer: JsonObject;
    try {
      answer = await upstream.chat(forward, new AbortController().signal);
    } catch (error) {
      const upstreamMs = performance.now() - upstreamStarted;
      metrics.upstreamLatency.observe({ endpoint: "chat", outcome: "error" }, upstreamMs / 1000);
      reply.headers({
        ...admission.headers,
        ...(await enforcer.settle(admission, { charged: 0, outcome: "UPSTREAM_ERROR", upstreamMs })),
      });
      return sendError(reply, "UPSTREAM_ERROR", errorMessage(error));
    }
    const upstreamMs = performance.now() - upstreamStarted;
    metrics.upstreamLatency.observe({ endpoint: "chat", outcome: "ok" }, upstreamMs / 1000);
    const usage = answer.usage as TokenUsage | undefined;
    // Without a usage report, the worst case that was reserved is what the call cost.
    const charged = usage?.total_tokens ?? admission.decision.reserve;
    const settled = await enforcer.settle(admission, { charged, outcome: "COMPLETED", upstreamMs });
    reply.headers({ ...admission.headers, ...settled });
    return answer;
  });
}

/**
 * Streams the upstream's chunks to the client as server-sent events. Headers wait for the first chunk,
 * so an upstream that fails at once still gets a proper error response. On a client that goes away,
 * the upstream request is closed and the call is charged what was produced until then.
 */
async function streamChat(
  reply: FastifyReply,
  admission: Admission,
  forward: JsonObject,
  promptTokens: number,
  clientWantsUsage: boolean,
  { enforcer, upstream, metrics }: ChatDeps,
) {
  const controller = new AbortController();
  const res = reply.raw;
  const onClose = () => {
    if (!res.writableFinished) controller.abort();
  };
  res.on("close", onClose);
  const upstreamStarted = performance.now();
  const chunks = upstream.chatStream(forward, controller.signal)[Symbol.asyncIterator]();
  let next: IteratorResult<ChatChunk>;
  try {
    next = await chunks.next();
  } catch (error) {
    res.off("close", onClose);
    const upstreamMs = performance.now() - upstreamStarted;
    metrics.upstreamLatency.observe({ endpoint: "chat_stream", outcome: "error" }, upstreamMs / 1000);
    const outcome = controller.signal.aborted ? "CLIENT_CLOSED" : "UPSTREAM_ERROR";
    reply.headers({ ...admission.headers, ...(await enforcer.settle(admission, { charged: 0, outcome, upstreamMs })) });
    return sendError(reply, "UPSTREAM_ERROR", errorMessage(error));
  }

  reply.hijack();
  res.writeHead(200, {
    ...admission.headers,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  let produced = "";
  let usage: TokenUsage | null = null;
  let failure: unknown = null;
  try {
    while (!next.done) {
      const chunk = next.value;
      for (const choice of chunk.choices ?? []) produced += choice.delta?.content ?? "";
      if (chunk.usage) usage = chunk.usage;
      // The usage chunk was asked for the ledger; a client that did not ask for it does not get it.
      const usageOnly = chunk.usage && (chunk.choices?.length ?? 0) === 0;
      if (!controller.signal.aborted && (clientWantsUsage || !usageOnly))
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      next = await chunks.next();
    }
  } catch (error) {
    failure = error;
    await chunks.return?.(undefined).catch(() => {});
  }
  res.off("close", onClose);
  const upstreamMs = performance.now() - upstreamStarted;
  const outcome = controller.signal.aborted ? "CLIENT_CLOSED" : failure ? "UPSTREAM_ERROR" : "COMPLETED";
  metrics.upstreamLatency.observe(
    { endpoint: "chat_stream", outcome: outcome === "COMPLETED" ? "ok" : "error" },
    upstreamMs / 1000,
  );
  // The upstream's own count when it sent one; otherwise what reached the client, counted here.
  const charged = usage?.total_tokens ?? (produced === "" ? 0 : promptTokens + countTextTokens(produced));
  try {
    await enforcer.settle(admission, { charged, outcome, upstreamMs });
  } catch (error) {
    // The headers are gone; the reservation stays held (the worst case is charged, never more).
    reply.log.error({ err: error }, "settling a streamed call failed");
    res.write(`data: ${JSON.stringify(openAiError("DATABASE_ERROR", errorMessage(error)))}\n\n`);
    res.end();
    return;
  }
  if (outcome === "UPSTREAM_ERROR")
    res.write(`data: ${JSON.stringify(openAiError("UPSTREAM_ERROR", errorMessage(failure)))}\n\n`);
  if (outcome === "COMPLETED") res.write("data: [DONE]\n\n");
  res.end();
}
