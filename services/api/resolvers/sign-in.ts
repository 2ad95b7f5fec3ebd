import type { FastifyRequest } from "fastify";
import { generateNonce, SiweErrorType, SiweMessage } from "siwe";
import { issueApiKey, revokeApiKey } from "../../db/api-keys.ts";
import type { Config } from "../../shared/config.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";
import type { Quotas } from "../quotas.ts";
import { assertMayDrawCompute } from "../sign-in-eligibility.ts";

/** How long an issued nonce may be signed and used. */
export const NONCE_TTL_MS = 10 * 60 * 1000;
/** How far a message's issuedAt may be ahead of our clock (wallet clocks drift). */
export const CLOCK_SKEW_MS = 60 * 1000;
/** Characters of a key's label (it is shown in lists of keys, never used for anything else). */
export const MAX_LABEL_LENGTH = 64;

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The domain Sign-In messages must name: SIWE_DOMAIN, or the service's own host:port. */
export function siweDomain(config: Config): string {
  return config.SIWE_DOMAIN ?? `${config.HOST}:${config.PORT}`;
}

/**
 * The domains a sign-in arriving on `request` may name: SIWE_DOMAIN when the operator set one (and only
 * it); otherwise the service's HOST:PORT, and the host the request came in on when that is a loopback
 * name on the port the service answered on (a browser on `localhost:4000` signs for `localhost:4000`,
 * not for `127.0.0.1:4000`).
 */
export function acceptedDomains(config: Config, request: FastifyRequest): string[] {
  const domains = [siweDomain(config)];
  if (config.SIWE_DOMAIN) return domains;
  const host = request.headers.host;
  const match = host ? /^(.+):(\d+)$/.exec(host) : null;
  if (
    host &&
    match &&
    LOOPBACK_NAMES.has((match[1] as string).toLowerCase()) &&
    Number(match[2]) === request.socket.localPort &&
    !domains.includes(host)
  ) {
    domains.unshift(host);
  }
  return domains;
}

function unauthenticated(reason: string, message: string, details: Record<string, unknown> = {}): never {
  throw new AppError("UNAUTHENTICATED", message, { details: { reason, ...details } });
}

function parseMessage(text: string): SiweMessage {
  try {
    return new SiweMessage(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new AppError("BAD_USER_INPUT", `message is not a Sign-In with Ethereum (EIP-4361) message: ${detail}`, {
      cause,
    });
  }
}

/** The message names this service: its domain, a URI on that domain, and a time within the nonce's life. */
function checkMessage(message: SiweMessage, domains: string[], nowMs: number): void {
  if (!domains.includes(message.domain)) {
    unauthenticated(
      "DOMAIN_MISMATCH",
      `the message signs in to ${message.domain}; this service expects ${domains.join(" or ")}`,
      { expected: domains },
    );
  }
  let uriHost: string | undefined;
  try {
    const uri = new URL(message.uri);
    if (uri.protocol === "https:" || uri.protocol === "http:") uriHost = uri.host;
  } catch {
    // not a URL: refused below
  }
  if (uriHost !== new URL(`http://${message.domain}`).host) {
    unauthenticated(
      "URI_MISMATCH",
      `the message's uri ${message.uri} is not on its domain ${message.domain}: use http(s)://${message.domain}`,
    );
  }
  const issuedAt = Date.parse(message.issuedAt ?? "");
  if (Number.isNaN(issuedAt) || issuedAt > nowMs + CLOCK_SKEW_MS) {
    unauthenticated("ISSUED_IN_FUTURE", `the message is issued at ${message.issuedAt}, in the future: check the clock`);
  }
  if (issuedAt < nowMs - NONCE_TTL_MS - CLOCK_SKEW_MS) {
    unauthenticated("EXPIRED_MESSAGE", `the message was issued at ${message.issuedAt}, too long ago: sign a new one`);
  }
}

export function createSignIn(quotas: Quotas) {
  return {
    async siweNonce(_: unknown, __: unknown, ctx: ApiContext) {
      const { database, now, config, deployment } = ctx.deps;
      const nowDate = new Date(now());
      const expiresAt = new Date(nowDate.getTime() + NONCE_TTL_MS);
      const nonce = generateNonce();
      await database.db.deleteFrom("siwe_nonces").where("expires_at", "<", nowDate).execute();
      await database.db.insertInto("siwe_nonces").values({ nonce, expires_at: expiresAt }).execute();
      const [domain] = acceptedDomains(config, ctx.request) as [string];
      return {
        nonce,
        domain,
        chainId: deployment.chainId,
        issuedAt: nowDate.toISOString(),
        expiresAt: expiresAt.toISOString(),
      };
    },

    /**
     * Counts the attempt against the client's sign-ins this hour, checks the message (domain, URI, chain,
     * time, signature), then spends its nonce: a nonce we issued, not expired, never used before. Only
     * then is a key issued, within the address's limit of live keys; it is returned this once.
     */
    async createApiKey(
      _: unknown,
      args: { message: string; signature: string; label?: string | null },
      ctx: ApiContext,
    ) {
      const { database, now, config, deployment } = ctx.deps;
      if (args.label != null && args.label.length > MAX_LABEL_LENGTH) {
        throw new AppError("BAD_USER_INPUT", `label must be at most ${MAX_LABEL_LENGTH} characters`);
      }
      await quotas.charge([{ scope: "sign_in", subject: await ctx.clientKey(), limit: config.SIGN_INS_PER_HOUR }]);
      const message = parseMessage(args.message);
      const nowMs = now();
      checkMessage(message, acceptedDomains(config, ctx.request), nowMs);
      if (message.chainId !== deployment.chainId) {
        unauthenticated(
          "CHAIN_MISMATCH",
          `the message is for chain ${message.chainId}; this service is on chain ${deployment.chainId}`,
        );
      }
      const nowDate = new Date(nowMs);
      const result = await message.verify(
        { signature: args.signature, domain: message.domain, nonce: message.nonce, time: nowDate.toISOString() },
        { suppressExceptions: true },
      );
      if (!result.success) {
        const type = (result.error as { type?: string } | undefined)?.type ?? "INVALID_SIGNATURE";
        if (type === SiweErrorType.EXPIRED_MESSAGE)
          unauthenticated("EXPIRED_MESSAGE", "the message has expired: sign a new one");
        if (type === SiweErrorType.NOT_YET_VALID_MESSAGE)
          unauthenticated("NOT_YET_VALID", "the message is not valid yet (notBefore)");
        unauthenticated("INVALID_SIGNATURE", `the signature is not ${message.address}'s signature of this message`);
      }
      const spent = await database.db
        .deleteFrom("siwe_nonces")
        .where("nonce", "=", message.nonce)
        .where("expires_at", ">", nowDate)
        .returning("nonce")
        .executeTakeFirst();
      if (!spent) {
        unauthenticated("NONCE_INVALID", "the nonce was not issued by this service, has expired or was already used");
      }
      await assertMayDrawCompute(ctx.deps, message.address);
      const issued = await issueApiKey(database.db, {
        address: message.address,
        maxLiveKeys: config.API_KEYS_PER_ADDRESS,
        ...(args.label ? { label: args.label } : {}),
      });
      return { ...issued, address: message.address };
    },

    /** A consumer revokes one of its own keys; the operator revokes anyone's. */
    async revokeApiKey(_: unknown, args: { id: string }, ctx: ApiContext) {
      const caller = await ctx.caller();
      if (caller.kind === "anonymous") {
        throw new AppError(
          "UNAUTHENTICATED",
          "send `Authorization: Bearer <api key>` of the key's owner, or the operator token, to revoke it",
        );
      }
      const owner = caller.kind === "consumer" ? caller.address : undefined;
      const revoked = await revokeApiKey(ctx.deps.database.db, { id: args.id, ...(owner ? { address: owner } : {}) });
      if (!revoked) throw new AppError("NOT_FOUND", `no live key ${args.id}${owner ? ` belongs to ${owner}` : ""}`);
      return true;
    },
  };
}
