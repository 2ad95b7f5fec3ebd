import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { type ErrorCode, errorTable, isAppError } from "../shared/errors.ts";

/** OpenAI's error shape, with our reason code as `code`, so any OpenAI client reads our refusals. */
export function openAiError(code: ErrorCode, message: string) {
  return { error: { message, type: errorTable[code].type, code, param: null } };
}

export function sendError(reply: FastifyReply, code: ErrorCode, message: string) {
  return reply.code(errorTable[code].status).send(openAiError(code, message));
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
