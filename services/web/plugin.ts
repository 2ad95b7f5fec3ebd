import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";

/**
 * The web app's own URLs (history routing): each answers the app's index, which then shows the page.
 * Listed one by one rather than caught by a not-found handler, so that no API, gateway or ops route,
 * and no 404 of theirs, is ever shadowed.
 */
export const appRoutes = [
  "/",
  "/proposals/*",
  "/new",
  "/delegates",
  "/delegates/*",
  "/policies",
  "/policies/*",
  "/my-ai",
  "/notifications",
  "/operator",
] as const;

export interface WebPluginOptions {
  /** The built app (default: services/web/dist, written by `npm run build`). */
  dist?: URL;
  /**
   * A JSON-RPC URL wallets may add when they do not know the service's chain: the development chain's.
   * A configured RPC_URL is never shown (it often carries an API key).
   */
  publicRpcUrl?: string;
}

// Guideline documents live anywhere, so the page may fetch any https URL (connect-src); nothing else
// is loaded from elsewhere.
const contentSecurityPolicy = [
  "default-src 'self'",
  "connect-src 'self' ws: wss: https: http:",
  "img-src 'self' data:",
  "style-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

function escapeAttribute(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/**
 * The governance web app at `/`: the index for every app route, the hashed assets under /assets/
 * (cached for good). Encapsulated; it reads the build once at start.
 */
export default async function webPlugin(app: FastifyInstance, opts: WebPluginOptions) {
  const dist = opts.dist ?? new URL("./dist/", import.meta.url);
  let index: string | undefined;
  try {
    index = await readFile(new URL("index.html", dist), "utf8");
  } catch {
    app.log.warn({ dist: fileURLToPath(dist) }, "the web app is not built: `/` answers 503 until `npm run build`");
  }
  if (index && opts.publicRpcUrl) {
    index = index.replace(
      "</head>",
      `<meta name="commons-rpc-url" content="${escapeAttribute(opts.publicRpcUrl)}"></head>`,
    );
  }
  if (index) {
    await app.register(fastifyStatic, {
      root: fileURLToPath(new URL("assets/", dist)),
      prefix: "/assets/",
      immutable: true,
      maxAge: "365d",
      index: false,
    });
  }

  const sendIndex = (reply: FastifyReply) =>
    index
      ? reply
          .type("text/html; charset=utf-8")
          .header("cache-control", "no-cache")
          .header("content-security-policy", contentSecurityPolicy)
          .send(index)
      : reply
          .code(503)
          .type("text/plain; charset=utf-8")
          .send("The web app is not built: run `npm run build`, then start the service again.");
  for (const url of appRoutes) app.get(url, (_request, reply) => sendIndex(reply));
}
