import { createHash, type Hash } from "node:crypto";
import { Transform } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";

/**
 * sha256 of each call's raw request body, for its usage receipt (services/receipts): hashed as the bytes
 * stream in, before fastify parses them, so the hash is of what the client sent and costs no second pass.
 */
const requestHashes = new WeakMap<FastifyRequest, string>();

export function hashRequestBodies(app: FastifyInstance): void {
  app.addHook("preParsing", async (request, _reply, payload) => {
    const hash = createHash("sha256");
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
      flush(done) {
        requestHashes.set(request, `0x${hash.digest("hex")}`);
        done();
      },
    });
    payload.on("error", (error) => tap.destroy(error));
    return payload.pipe(tap);
  });
}

/** The raw body's sha256 (0x-prefixed), or null for a call without one. */
export function requestHashOf(request: FastifyRequest): string | null {
  return requestHashes.get(request) ?? null;
}

/** sha256 of an answer's bytes as they are written (a stream's events one by one). */
export function responseHasher(): { update(text: string): void; digest(): string } {
  const hash: Hash = createHash("sha256");
  return {
    update: (text) => {
      hash.update(text);
    },
    digest: () => `0x${hash.digest("hex")}`,
  };
}
