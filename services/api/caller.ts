import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { findApiKey } from "../db/api-keys.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors.ts";

/** Who is asking: the operator (operator token), a consumer (one of its live API keys), or anyone. */
export type Caller =
  | { kind: "operator" }
  | { kind: "consumer"; address: string; keyId: string }
  | { kind: "anonymous" };

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Compares digests of equal length, so the time taken says nothing about the operator token. */
export function isOperatorToken(token: string, operatorToken: string | undefined): boolean {
  return operatorToken !== undefined && timingSafeEqual(digest(token), digest(operatorToken));
}

async function identify(deps: Deps, authorization: string | undefined): Promise<Caller> {
  if (!authorization) return { kind: "anonymous" };
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!match) throw new AppError("UNAUTHENTICATED", "Authorization must be `Bearer <api key or operator token>`");
  const token = match[1] as string;
  if (isOperatorToken(token, deps.config.OPERATOR_TOKEN)) return { kind: "operator" };
  const key = await findApiKey(deps.database.db, token);
  if (!key || key.revoked) throw new AppError("UNAUTHENTICATED", "the API key is unknown or revoked");
  return { kind: "consumer", address: key.address, keyId: key.id };
}

// One identification per HTTP request (or websocket upgrade): the rate limit and the resolvers share it.
const callers = new WeakMap<object, Promise<Caller>>();

/** The verified caller of a request; rejects with UNAUTHENTICATED for a credential that is not valid. */
export function callerOf(deps: Deps, request: FastifyRequest): Promise<Caller> {
  let caller = callers.get(request.raw);
  if (!caller) {
    caller = identify(deps, request.headers.authorization);
    // Settled by whoever awaits it; this copy only keeps an unawaited rejection from being reported.
    caller.catch(() => undefined);
    callers.set(request.raw, caller);
  }
  return caller;
}

/**
 * The key a client's quotas are counted under: a verified identity (the consumer's address, whichever of
 * its keys it sends, or the operator), else the client's address. A credential that does not verify
 * buys nothing: it counts as the address it came from. The address is the socket's peer unless
 * TRUST_PROXY names the proxy in front (then fastify reads X-Forwarded-For).
 */
export async function clientKeyOf(deps: Deps, request: FastifyRequest): Promise<string> {
  const caller = await callerOf(deps, request).catch(() => ({ kind: "anonymous" }) as const);
  if (caller.kind === "operator") return "operator";
  if (caller.kind === "consumer") return `consumer:${caller.address}`;
  return `ip:${request.ip}`;
}
