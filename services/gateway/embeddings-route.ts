import type { FastifyInstance } from "fastify";
import { normalizeContent } from "../policy/content.ts";
import { AppError } from "../shared/errors.ts";
import type { Metrics } from "../shared/metrics.ts";
import type { Enforcer } from "./enforcer.ts";
import { refuseUnauthenticated, sendError, upstreamFailure } from "./openai-errors.ts";
import { declaredPurpose, parseEmbeddingsBody } from "./request-body.ts";
import { embeddingInputs, embeddingText, estimateEmbeddingTokens } from "./tokens.ts";
import { billedTokens, type JsonObject, type Upstream } from "./upstream.ts";

/** POST /v1/embeddings: like chat, with no completion (the reservation is the input's tokens). */
export function registerEmbeddingsRoute(
  app: FastifyInstance,
  { enforcer, upstream, metrics }: { enforcer: Enforcer; upstream: Upstream; metrics: Metrics },
) {
  app.post("/v1/embeddings", async (request, reply) => {
    const body = parseEmbeddingsBody(request.body);
    const key = await enforcer.authenticate(request.headers.authorization);
    if (key === null) return refuseUnauthenticated(reply);
    const inputs = embeddingInputs(body.request.input);
    // Token ids are read as the text they stand for: the content rules apply to them too.
    const text = embeddingText(inputs);
    if (text === null) throw new AppError("BAD_USER_INPUT", "input holds token ids that no tokenizer of ours knows");
    const admission = await enforcer.admit({
      endpoint: "embeddings",
      key,
      modelId: body.model,
      purpose: declaredPurpose(request.headers, body.request),
      content: normalizeContent(text),
      promptTokens: estimateEmbeddingTokens(inputs),
      maxTokens: 0,
      choices: 1,
      answeredAfterSettlement: true,
    });
    // Log lines of this call carry the audit record's id: logs and audit trail join on it.
    reply.log = reply.log.child({ auditId: admission.requestId });
    if (!admission.admitted) {
      reply.headers(admission.headers);
      return sendError(reply, admission.reason, admission.message);
    }
    const started = performance.now();
    let answer: JsonObject;
    try {
      answer = await upstream.embeddings(body.forward, new AbortController().signal);
    } catch (error) {
      const upstreamMs = performance.now() - started;
      metrics.upstreamLatency.observe({ endpoint: "embeddings", outcome: "error" }, upstreamMs / 1000);
      reply.headers({
        ...admission.headers,
        ...(await enforcer.settle(admission, { charged: 0, outcome: "UPSTREAM_ERROR", upstreamMs })),
      });
      return sendError(reply, "UPSTREAM_ERROR", upstreamFailure(reply, error, admission.requestId));
    }
    const upstreamMs = performance.now() - started;
    metrics.upstreamLatency.observe({ endpoint: "embeddings", outcome: "ok" }, upstreamMs / 1000);
    const settled = await enforcer.settle(admission, {
      charged: billedTokens(answer.usage) ?? admission.decision.reserve,
      outcome: "COMPLETED",
      upstreamMs,
    });
    reply.headers({ ...admission.headers, ...settled });
    return answer;
  });
}
