import { generateNonce, SiweErrorType, SiweMessage } from "siwe";
import { issueApiKey, revokeApiKey } from "../../db/api-keys.ts";
import type { Config } from "../../shared/config.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";
import { assertMayDrawCompute } from "../sign-in-eligibility.ts";

/** How long an issued nonce may be signed and used. */
export const NONCE_TTL_MS = 10 * 60 * 1000;

/** The domain Sign-In messages must name: SIWE_DOMAIN, or the service's own host:port. */
export function siweDomain(config: Config): string {
  return config.SIWE_DOMAIN ?? `${config.HOST}:${config.PORT}`;
}

function unauthenticated(reason: string, message: string): never {
  throw new AppError("UNAUTHENTICATED", message, { details: { reason } });
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

export const signInMutations = {
  async siweNonce(_: unknown, __: unknown, ctx: ApiContext) {
    const { database, now, config, deployment } = ctx.deps;
    const nowDate = new Date(now());
    const expiresAt = new Date(nowDate.getTime() + NONCE_TTL_MS);
    const nonce = generateNonce();
    await database.db.deleteFrom("siwe_nonces").where("expires_at", "<", nowDate).execute();
    await database.db.insertInto("siwe_nonces").values({ nonce, expires_at: expiresAt }).execute();
    return { nonce, domain: siweDomain(config), chainId: deployment.chainId, expiresAt: expiresAt.toISOString() };
  },

  /**
   * Checks the message (domain, chain, time window, signature), then spends its nonce: a nonce we
   * issued, not expired, never used before. Only then is a key issued; it is returned this once.
   */
  async createApiKey(_: unknown, args: { message: string; signature: string; label?: string | null }, ctx: ApiContext) {
    const { database, now, config, deployment } = ctx.deps;
    const message = parseMessage(args.message);
    const domain = siweDomain(config);
    if (message.domain !== domain) {
      unauthenticated("DOMAIN_MISMATCH", `the message signs in to ${message.domain}; this service is ${domain}`);
    }
    if (message.chainId !== deployment.chainId) {
      unauthenticated(
        "CHAIN_MISMATCH",
        `the message is for chain ${message.chainId}; this service is on chain ${deployment.chainId}`,
      );
    }
    const nowDate = new Date(now());
    const result = await message.verify(
      { signature: args.signature, domain, nonce: message.nonce, time: nowDate.toISOString() },
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
      ...(args.label ? { label: args.label } : {}),
    });
    return { ...issued, address: message.address };
  },

  async revokeApiKey(_: unknown, args: { id: string }, ctx: ApiContext) {
    const caller = await ctx.caller();
    if (caller.kind !== "consumer") {
      throw new AppError("UNAUTHENTICATED", "send `Authorization: Bearer <api key>` of the key's owner to revoke it");
    }
    const revoked = await revokeApiKey(ctx.deps.database.db, { id: args.id, address: caller.address });
    if (!revoked) throw new AppError("NOT_FOUND", `no live key ${args.id} belongs to ${caller.address}`);
    return true;
  },
};
