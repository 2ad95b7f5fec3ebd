import type { FastifyInstance } from "fastify";
import { normalizeContent } from "../policy/content.ts";
import { AppError } from "../shared/errors.ts";
import { bindAuditId, type ForwardDeps, forwardJson } from "./forward.ts";
import { refuseUnauthenticated, sendRefusal } from "./openai-errors.ts";
import { declaredPurpose, parseEmbeddingsBody } from "./request-body.ts";
import { embeddingInputs, embeddingText, estimateEmbeddingTokens } from "./tokens.ts";

/** POST /v1/embeddings: like chat, with no completion (the reservation is the input's tokens). */
export function registerEmbeddingsRoute(app: FastifyInstance, deps: ForwardDeps) {
  const { enforcer, upstream } = deps;
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
      served: upstream.serves(body.model),
    });
    bindAuditId(reply, admission.requestId);
    if (!admission.admitted) return sendRefusal(reply, admission);
    return forwardJson(reply, admission, "/embeddings", body.forward, deps);
  });
}
