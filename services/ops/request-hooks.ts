import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { opsMetrics } from "./ops-metrics.ts";
import { REQUEST_ID_HEADER } from "./request-id.ts";

/**
 * Hooks every route of the server shares, registered on the root instance before the api and gateway
 * scopes so that they reach into both: the request id answered in `x-request-id`, and the duration of
 * every request by route (the route pattern, never the raw URL, to keep label values bounded).
 */
export function registerRequestHooks(app: FastifyInstance, registry: Registry): void {
  const duration = opsMetrics(registry).httpDuration;
  app.addHook("onSend", async (request, reply, payload) => {
    // The gateway names its calls itself (the audit trail's request id); other routes get ours.
    if (!reply.hasHeader(REQUEST_ID_HEADER)) reply.header(REQUEST_ID_HEADER, request.id);
    return payload;
  });
  app.addHook("onResponse", async (request, reply) => {
    duration.observe(
      { method: request.method, route: request.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}
