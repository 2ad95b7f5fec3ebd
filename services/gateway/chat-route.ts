import type { FastifyInstance, FastifyReply } from "fastify";
import { normalizeContent } from "../policy/content.ts";
import type { Metrics } from "../shared/metrics.ts";
import type { Admission, Enforcer } from "./enforcer.ts";
import { openAiError, refuseUnauthenticated, sendError, upstreamFailure } from "./openai-errors.ts";
import { type ChatBody, declaredPurpose, parseChatBody } from "./request-body.ts";
import { chatInputText, countTextTokens, estimateChatInputTokens } from "./tokens.ts";
import { billedTokens, type ChatChunk, type JsonObject, type Upstream } from "./upstream.ts";

interface ChatDeps {
  enforcer: Enforcer;
  upstream: Upstream;
  metrics: Metrics;
}

/**
 * The request as the upstream gets it: the validated fields only, the purpose (ours, not the upstream's
 * business) left out of metadata, and the admitted completion bound in each field the client named one.
 */
function forwardable(body: ChatBody, maxTokens: number): JsonObject {
  const { metadata, ...request } = body.request;
  const forward: JsonObject = { ...request };
  if (metadata) {
    const { purpose: _purpose, ...rest } = metadata;
    if (Object.keys(rest).length > 0) forward.metadata = rest;
  }
  for (const field of body.maxTokensFields) forward[field] = maxTokens;
  return forward;
}

/** POST /v1/chat/completions: judged, reserved, forwarded (JSON or server-sent events), settled. */
export function registerChatRoute(app: FastifyInstance, { enforcer, upstream, metrics }: ChatDeps) {
  app.post("/v1/chat/completions", async (request, reply) => {
    const body = parseChatBody(request.body);
    const key = await enforcer.authenticate(request.headers.authorization);
    if (key === null) return refuseUnauthenticated(reply);
    // Counted only for a known caller: an unauthenticated flood costs no tokenizing.
    const promptTokens = estimateChatInputTokens(body.request);
    const admission = await enforcer.admit({
      endpoint: "chat.completions",
      key,
      modelId: body.model,
      purpose: declaredPurpose(request.headers, body.request),
      content: normalizeContent(chatInputText(body.request)),
      promptTokens,
      maxTokens: body.maxTokens,
      choices: body.choices,
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
    const forward = forwardable(body, admission.decision.maxTokens);
    if (body.stream) {
      const options = body.request.stream_options;
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
      return sendError(reply, "UPSTREAM_ERROR", upstreamFailure(reply, error, admission.requestId));
    }
    const upstreamMs = performance.now() - upstreamStarted;
    metrics.upstreamLatency.observe({ endpoint: "chat", outcome: "ok" }, upstreamMs / 1000);
    // Without a usage report, the worst case that was reserved is what the call cost.
    const charged = billedTokens(answer.usage) ?? admission.decision.reserve;
    const settled = await enforcer.settle(admission, { charged, outcome: "COMPLETED", upstreamMs });
    reply.headers({ ...admission.headers, ...settled });
    return answer;
  });
}

/**
 * Streams the upstream's chunks to the client as server-sent events. Headers wait for the first chunk,
 * so an upstream that fails at once still gets a proper error response. On a client that goes away,
 * the upstream request is closed and the call is charged what was produced until then, and at least its
 * prompt once the upstream accepted it (the upstream bills that much).
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
  let accepted = false;
  let produced = "";
  let usage: unknown = null;
  let failure: unknown = null;
  const outcome = () => (controller.signal.aborted ? "CLIENT_CLOSED" : failure ? "UPSTREAM_ERROR" : "COMPLETED");
  const settle = () => {
    res.off("close", onClose);
    const upstreamMs = performance.now() - upstreamStarted;
    metrics.upstreamLatency.observe(
      { endpoint: "chat_stream", outcome: outcome() === "COMPLETED" ? "ok" : "error" },
      upstreamMs / 1000,
    );
    // The upstream's own count when it sent one; otherwise what it bills at least: the prompt once it
    // accepted the call, and what reached the client, counted here.
    const charged = billedTokens(usage) ?? (accepted ? promptTokens + countTextTokens(produced) : 0);
    return enforcer.settle(admission, { charged, outcome: outcome(), upstreamMs });
  };

  let chunks: AsyncIterator<ChatChunk>;
  let next: IteratorResult<ChatChunk>;
  try {
    chunks = (await upstream.chatStream(forward, controller.signal))[Symbol.asyncIterator]();
    accepted = true;
    next = await chunks.next();
  } catch (error) {
    failure = error;
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
  try {
    await settle();
  } catch (error) {
    // The headers are gone; the reservation stays held (the worst case is charged, never more).
    reply.log.error({ err: error }, "settling a streamed call failed");
    const message = `the call's record could not be written (request ${admission.requestId})`;
    res.write(`data: ${JSON.stringify(openAiError("DATABASE_ERROR", message))}\n\n`);
    res.end();
    return;
  }
  if (outcome() === "UPSTREAM_ERROR") {
    const message = upstreamFailure(reply, failure, admission.requestId);
    res.write(`data: ${JSON.stringify(openAiError("UPSTREAM_ERROR", message))}\n\n`);
  }
  if (outcome() === "COMPLETED") res.write("data: [DONE]\n\n");
  res.end();
}
