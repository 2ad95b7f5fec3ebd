import type { FastifyInstance } from "fastify";
import { normalizeContent } from "../policy/content.ts";
import { bindAuditId, chatDialect, type ForwardDeps, forwardJson, forwardStream } from "./forward.ts";
import { refuseUnauthenticated, sendRefusal } from "./openai-errors.ts";
import { type ChatBody, declaredPurpose, forwardedMetadata, parseChatBody } from "./request-body.ts";
import { chatInputText, estimateChatInputTokens } from "./tokens.ts";
import type { JsonObject } from "./upstream.ts";

/**
 * The request as the upstream gets it: the validated fields only, the purpose (ours, not the upstream's
 * business) left out of metadata, and the admitted completion bound in each field the client named one.
 */
function forwardable(body: ChatBody, maxTokens: number): JsonObject {
  const { metadata, ...request } = body.request;
  const forward: JsonObject = { ...request, metadata: forwardedMetadata(metadata) };
  for (const field of body.maxTokensFields) forward[field] = maxTokens;
  return forward;
}

/** POST /v1/chat/completions: judged, reserved, forwarded (JSON or server-sent events), settled. */
export function registerChatRoute(app: FastifyInstance, deps: ForwardDeps) {
  const { enforcer, upstream } = deps;
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
      served: upstream.serves(body.model),
    });
    bindAuditId(reply, admission.requestId);
    if (!admission.admitted) return sendRefusal(reply, admission);
    // The upstream may produce no more than was reserved for.
    const forward = forwardable(body, admission.decision.maxTokens);
    if (!body.stream) return forwardJson(reply, admission, "/chat/completions", forward, deps);
    const options = body.request.stream_options;
    forward.stream_options = { ...options, include_usage: true };
    return forwardStream(reply, admission, forward, promptTokens, chatDialect(options?.include_usage === true), deps);
  });
}
