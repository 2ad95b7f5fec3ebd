import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { type ErrorCode, errorTable, isAppError } from "../shared/errors.ts";

/** OpenAI's error shape, with our reason code as `code`, so any OpenAI client reads our refusals. */
export function openAiError(code: ErrorCode, message: string) {
  return { error: { message, type: errorTable[code].type, code, param: null } };
}

/**
 * An error answer. A client must not retry a refusal that trying again cannot change (a 429 for an
 * exhausted budget, say): `x-should-retry: false` tells the openai SDKs so, which otherwise retry every 429.
 */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string) {
  if (!errorTable[code].retryable) reply.header("x-should-retry", "false");
  return reply.code(errorTable[code].status).send(openAiError(code, message));
}

/** A call the enforcer refused: its headers (request id, policy, rate limits) and its reason. */
export function sendRefusal(
  reply: FastifyReply,
  refusal: { reason: ErrorCode; message: string; headers: Record<string, string> },
) {
  reply.headers(refusal.headers);
  return sendError(reply, refusal.reason, refusal.message);
}

/** A call without a live key: refused with nothing written (authenticate() counted it). */
export function refuseUnauthenticated(reply: FastifyReply) {
  return sendError(reply, "INVALID_API_KEY", "the API key is missing, unknown or revoked");
}

/**
 * What a client is told of an upstream failure: our own words (upstream.ts never puts the upstream's
 * text in an error's message) and the request id to quote to an operator. The failure, with what the
 * upstream said (redacted), goes to the log under that id.
 */
export function upstreamFailure(reply: FastifyReply, error: unknown, requestId: string): string {
  reply.log.warn({ err: error }, "the upstream failed on a call");
  const what = isAppError(error, "UPSTREAM_ERROR") ? error.message : "the upstream failed";
  return `${what} (request ${requestId})`;
}

/** The gateway scope's error handler: our codes as they are, malformed requests as BAD_USER_INPUT. */
export function gatewayErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (isAppError(error)) {
    if (error.status >= 500) request.log.error({ err: error }, "gateway call failed");
    return sendError(reply, error.code, error.message);
  }
  if (error.validation || (error.statusCode !== undefined && error.statusCode < 500)) {
    return sendError(reply, "BAD_USER_INPUT", error.message);
  }
  request.log.error({ err: error }, "gateway call failed");
  return sendError(reply, "INTERNAL", "the gateway failed to handle this call");
}
