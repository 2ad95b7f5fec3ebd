import { createHash, randomBytes, randomUUID } from "node:crypto";
import { getAddress, isAddress } from "ethers";
import { type Kysely, sql } from "kysely";
import { AppError } from "../shared/errors.ts";
import type { Database } from "./schema.ts";

const KEY_PREFIX = "sk-commons-";
/** Notified with a key's id when it is revoked, so that every replica forgets it at once. */
export const API_KEYS_CHANNEL = "commons_api_keys";
/** Characters of the key kept in clear for display: the fixed prefix plus six random ones. */
const DISPLAY_LENGTH = KEY_PREFIX.length + 6;

export interface IssuedApiKey {
  id: string;
  /** The secret itself: shown once, never stored. */
  key: string;
  prefix: string;
}

export interface ApiKeyOwner {
  id: string;
  address: string;
  revoked: boolean;
}

export interface ApiKeySummary {
  id: string;
  prefix: string;
  label: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

function checksummed(address: string): string {
  if (!isAddress(address)) throw new AppError("BAD_USER_INPUT", `not an Ethereum address: ${address}`);
  return getAddress(address);
}

/**
 * Issues a new key to `address`; only its hash and display prefix are stored. With `maxLiveKeys`, an
 * address that already holds that many unrevoked keys is refused (FORBIDDEN, reason KEY_LIMIT); the
 * count and the insert run under a lock on the address, so sign-ins on several replicas cannot pass it.
 */
export async function issueApiKey(
  db: Kysely<Database>,
  input: { address: string; label?: string; maxLiveKeys?: number },
): Promise<IssuedApiKey> {
  const key = `${KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  const row = {
    id: randomUUID(),
    key_hash: hashApiKey(key),
    prefix: key.slice(0, DISPLAY_LENGTH),
    address: checksummed(input.address),
    label: input.label ?? null,
  };
  await db.transaction().execute(async (trx) => {
    if (input.maxLiveKeys !== undefined) {
      await sql`select pg_advisory_xact_lock(hashtext(${`api_keys:${row.address}`}))`.execute(trx);
      const { live } = await trx
        .selectFrom("api_keys")
        .select((eb) => eb.fn.countAll<number>().as("live"))
        .where("address", "=", row.address)
        .where("revoked_at", "is", null)
        .executeTakeFirstOrThrow();
      if (Number(live) >= input.maxLiveKeys) {
        throw new AppError(
          "FORBIDDEN",
          `${row.address} holds ${live} live API keys, the limit per address: revoke one first (revokeApiKey)`,
          { details: { reason: "KEY_LIMIT", maximum: input.maxLiveKeys } },
        );
      }
    }
    await trx.insertInto("api_keys").values(row).execute();
  });
  return { id: row.id, key, prefix: row.prefix };
}

export function looksLikeApiKey(key: string): boolean {
  return key.startsWith(KEY_PREFIX);
}

/** The owner of `key`, or null when no such key was ever issued. */
export async function findApiKey(db: Kysely<Database>, key: string): Promise<ApiKeyOwner | null> {
  return looksLikeApiKey(key) ? findApiKeyByHash(db, hashApiKey(key)) : null;
}

export async function findApiKeyByHash(db: Kysely<Database>, keyHash: string): Promise<ApiKeyOwner | null> {
  const row = await db
    .selectFrom("api_keys")
    .select(["id", "address", "revoked_at"])
    .where("key_hash", "=", keyHash)
    .executeTakeFirst();
  return row ? { id: row.id, address: row.address, revoked: row.revoked_at !== null } : null;
}

/**
 * Revokes key `id` if it is live (and, with `address`, if that address owns it); true when this call
 * revoked it. The revocation is announced on API_KEYS_CHANNEL in the same transaction (gateways cache keys).
 */
export async function revokeApiKey(db: Kysely<Database>, input: { id: string; address?: string }): Promise<boolean> {
  const address = input.address === undefined ? undefined : checksummed(input.address);
  return db.transaction().execute(async (trx) => {
    let update = trx
      .updateTable("api_keys")
      .set({ revoked_at: new Date() })
      .where("id", "=", input.id)
      .where("revoked_at", "is", null);
    if (address !== undefined) update = update.where("address", "=", address);
    const revoked = await update.returning("id").executeTakeFirst();
    if (revoked === undefined) return false;
    await sql`select pg_notify(${API_KEYS_CHANNEL}, ${revoked.id})`.execute(trx);
    return true;
  });
}

/** Every key of `address`, newest first (never the secret). */
export async function listApiKeys(db: Kysely<Database>, address: string): Promise<ApiKeySummary[]> {
  const rows = await db
    .selectFrom("api_keys")
    .select(["id", "prefix", "label", "created_at", "revoked_at"])
    .where("address", "=", checksummed(address))
    .orderBy("created_at", "desc")
    .orderBy("id")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    prefix: r.prefix,
    label: r.label,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  }));
}
