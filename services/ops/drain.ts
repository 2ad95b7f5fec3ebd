import type { FastifyInstance } from "fastify";

/**
 * Once the server starts closing, keep-alive connections are closed as soon as their call in flight
 * has answered (Node closes only the connections idle at the moment close() is called; the others
 * would hold the shutdown for the whole keep-alive timeout).
 */
export function closeConnectionsWhenIdle(app: FastifyInstance, everyMs = 50): void {
  app.addHook("preClose", async () => {
    const timer = setInterval(() => app.server.closeIdleConnections(), everyMs);
    timer.unref();
    app.server.once("close", () => clearInterval(timer));
  });
}
