import type { FastifyInstance } from "fastify";
import { AppError, isAppError } from "../shared/errors.ts";
import type { LinkAction } from "./links.ts";
import type { Subscriptions } from "./subscriptions.ts";

const done: Record<LinkAction, string> = {
  confirm: "Your address is confirmed: AI Commons will email you the notifications you asked for.",
  unsubscribe: "You are unsubscribed: AI Commons will send nothing more to this address.",
};

/**
 * The links in notification emails. GET follows a link opened in a browser; POST is RFC 8058's one-click
 * unsubscribe that mail clients send (List-Unsubscribe-Post). Answers are plain text; errors carry their code.
 */
export default async function notificationRoutes(app: FastifyInstance, options: { subscriptions: Subscriptions }) {
  // The one-click POST's body is always "List-Unsubscribe=One-Click": the token in the URL is what counts.
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) =>
    done(null, body),
  );
  for (const action of ["confirm", "unsubscribe"] as const) {
    const handler = async (request: { query: unknown }, reply: import("fastify").FastifyReply) => {
      const token = (request.query as { token?: unknown }).token;
      try {
        if (typeof token !== "string")
          throw new AppError("LINK_INVALID", "the link has no token: open the one in the email");
        await options.subscriptions.followLink(action, token);
        return reply.type("text/plain; charset=utf-8").send(`${done[action]}\n`);
      } catch (error) {
        if (!isAppError(error)) throw error;
        return reply
          .code(error.status)
          .header("x-error-code", error.code)
          .type("text/plain; charset=utf-8")
          .send(`${error.code}: ${error.message}\n`);
      }
    };
    app.get(`/notifications/${action}`, handler);
    if (action === "unsubscribe") app.post(`/notifications/${action}`, handler);
  }
}
