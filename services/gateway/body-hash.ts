import { createHash, type Hash } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";

/**
 * sha256 of each call's raw request body and of its answer, for its usage receipt (services/receipts): the
 * only work receipts add to a call (the receipt itself is built from the audit record, off the request path,
 * when its period is anchored). RECEIPT_BODY_HASHES=false turns it off: receipts then carry zero hashes.
 */
const requestHashes = new WeakMap<FastifyRequest, string>();

const sha256 = (data: Buffer | string) => `0x${createHash("sha256").update(data).digest("hex")}`;

/**
 * Hashes JSON bodies in the JSON parser, on the buffer fastify reads whole before parsing anyway: the hash is
 * of the bytes the client sent, with no stream of its own per call (a Transform piped into each request cost
 * more than the hash). The parsing is fastify's own, with its defaults (proto and constructor poisoning
 * refused).
 */
export function hashRequestBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    requestHashes.set(request, sha256(body as Buffer));
    // Typed for a string; it parses a buffer alike (secure-json-parse takes both).
    parse(request, body as unknown as string, done);
  });
}

/** The raw body's sha256 (0x-prefixed), or null for a call without one (or with hashing off). */
export function requestHashOf(request: FastifyRequest): string | null {
  return requestHashes.get(request) ?? null;
}

export interface ResponseHasher {
  update(text: string): void;
  /** The sha256 of what was written (0x-prefixed); null with hashing off. */
  digest(): string | null;
}

const NO_HASH: ResponseHasher = { update: () => undefined, digest: () => null };

/** sha256 of an answer's bytes as they are written (a stream's events one by one), when `enabled`. */
export function responseHasher(enabled: boolean): ResponseHasher {
  if (!enabled) return NO_HASH;
  const hash: Hash = createHash("sha256");
  return {
    update: (text) => {
      hash.update(text);
    },
    digest: () => `0x${hash.digest("hex")}`,
  };
}
