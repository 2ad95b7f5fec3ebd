import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** A caller's own id is kept when it is short and plain (so it can be logged safely and correlated). */
const acceptable = /^[\w.:-]{1,64}$/;

export const REQUEST_ID_HEADER = "x-request-id";

/**
 * Fastify's `genReqId`: the caller's `x-request-id` when it is acceptable, otherwise a new
 * `req_<uuid>`. Every log line of the request carries it as `reqId`, and the response echoes it.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  if (typeof given === "string" && acceptable.test(given)) return given;
  return `req_${randomUUID().replaceAll("-", "")}`;
}
