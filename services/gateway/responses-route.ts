import type { FastifyInstance } from "fastify";
import { normalizeContent } from "../policy/content.ts";
import { bindAuditId, type ForwardDeps, forwardJson, forwardStream, responsesDialect } from "./forward.ts";
import { refuseUnauthenticated, sendRefusal } from "./openai-errors.ts";
import { declaredPurpose, forwardedMetadata } from "./request-body.ts";
import { parseResponsesBody, type ResponsesRequest } from "./responses-body.ts";
import { estimateResponsesInputTokens, responsesInputText } from "./tokens.ts";
import type { JsonObject } from "./upstream.ts";

/**
 * The request as the upstream gets it: the validated fields only, the purpose left out of metadata, and
 * the admitted output bound as max_output_tokens (it bounds reasoning and visible output together).
 */
function forwardable(request: ResponsesRequest, maxOutputTokens: number): JsonObject {
  const { metadata, ...rest } = request;
  return { ...rest, metadata: forwardedMetadata(metadata), max_output_tokens: maxOutputTokens };
}

/**
 * POST /v1/responses (OpenAI's Responses API, JSON or its streamed events): judged, reserved, forwarded
 * and settled exactly as chat completions are, with max_output_tokens as the completion bound.
 */
export function registerResponsesRoute(app: FastifyInstance, deps: ForwardDeps) {
  const { enforcer, upstream } = deps;
  app.post("/v1/responses", async (request, reply) => {
    const body = parseResponsesBody(request.body);
    const key = await enforcer.authenticate(request.headers.authorization);
    if (key === null) return refuseUnauthenticated(reply);
    // Counted only for a known caller: an unauthenticated flood costs no tokenizing.
    const promptTokens = estimateResponsesInputTokens(body.request);
    const admission = await enforcer.admit({
      endpoint: "responses",
      key,
      modelId: body.model,
      purpose: declaredPurpose(request.headers, body.request),
      content: normalizeContent(responsesInputText(body.request)),
      promptTokens,
      maxTokens: body.maxTokens,
      choices: 1,
      // A stream's first bytes go out before its settlement: its admission must be flushed first.
      answeredAfterSettlement: !body.stream,
      served: upstream.serves(body.model),
    });
    bindAuditId(reply, admission.requestId);
    if (!admission.admitted) return sendRefusal(reply, admission);
    const forward = forwardable(body.request, admission.decision.maxTokens);
    if (body.stream) return forwardStream(reply, admission, forward, promptTokens, responsesDialect, deps);
    return forwardJson(reply, admission, "/responses", forward, deps, (answer) => answer.status === "failed");
  });
}
