import type { FastifyInstance } from "fastify";
import { normalizeContent } from "../policy/snapshot.ts";
import { AppError } from "../shared/errors.ts";
import type { Metrics } from "../shared/metrics.ts";
import type { Enforcer } from "./enforcer.ts";
import { sendError } from "./openai-errors.ts";
import { declaredPurpose, parseEmbeddingsBody } from "./request-body.ts";
import { embeddingInputs, estimateEmbeddingTokens } from "./tokens.ts";
import type { JsonObject, TokenUsage, Upstream } from "./upstream.ts";

/** POST /v1/embeddings: like chat, with no completion (the reservation is the input's tokens). */
export function registerEmbeddingsRoute(
  app: FastifyInstance,
  { enforcer, upstream, metrics }: { enforcer: Enforcer; upstream: Upstream; metrics: Metrics },
) {
  app.post("/v1/embeddings", async (request, reply) => {
    const body = parseEmbeddingsBody(request.body);
    const inputs = embeddingInputs(body.input);
    if (inputs === null)
      throw new AppError("BAD_USER_INPUT", "input must be a string or an array of strings or tokens");
    const admission = await enforcer.admit({
      endpoint: "embeddings",
      authorization: request.headers.authorization,
      modelId: body.model,
      purpose: declaredPurpose(request.headers, body.raw),
      // Pre-tokenised input has no text the content rules could read.
      content: normalizeContent(inputs.filter((i) => typeof i === "string").join("\n")),
      promptTokens: estimateEmbeddingTokens(inputs),
      maxTokens: 0,
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
      answer = await upstream.embeddings(body.raw, new AbortController().signal);
    } catch (error) {
      const upstreamMs = performance.now() - started;
      metrics.upstreamLatency.observe({ endpoint: "embeddings", outcome: "error" }, upstreamMs / 1000);
      reply.headers({
        ...admission.headers,
        ...(await enforcer.settle(admission, { charged: 0, outcome: "UPSTREAM_ERROR", upstreamMs })),
      });
      return sendError(reply, "UPSTREAM_ERROR", error instanceof Error ? error.message : String(error));
    }
    const upstreamMs = performance.now() - started;
    metrics.upstreamLatency.observe({ endpoint: "embeddings", outcome: "ok" }, upstreamMs / 1000);
    const usage = answer.usage as TokenUsage | undefined;
    const settled = await enforcer.settle(admission, {
      charged: usage?.total_tokens ?? admission.decision.reserve,
      outcome: "COMPLETED",
      upstreamMs,
    });
    reply.headers({ ...admission.headers, ...settled });
    return answer;
  });
}
