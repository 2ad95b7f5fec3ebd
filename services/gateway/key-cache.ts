import { API_KEYS_CHANNEL, type ApiKeyOwner, findApiKeyByHash, hashApiKey, looksLikeApiKey } from "../db/api-keys.ts";
import type { DatabaseHandle } from "../db/connection.ts";

export interface KeyCache {
  find(key: string): Promise<ApiKeyOwner | null>;
  stop(): Promise<void>;
}

/**
 * Known keys in memory, by hash, so that a call does not pay a lookup. A revocation is announced on
 * API_KEYS_CHANNEL and forgotten at once by every replica; when the listener reconnects (notifications
 * may have been missed) the whole cache is forgotten, and entries also expire after `ttlMs`. Unknown
 * keys are never cached.
 */
export async function createKeyCache(
  database: DatabaseHandle,
  options: { ttlMs?: number; maxEntries?: number } = {},
): Promise<KeyCache> {
  const ttlMs = options.ttlMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 100_000;
  const entries = new Map<string, { owner: ApiKeyOwner; at: number }>();
  // Bumped on every revocation: a lookup that raced one is not cached.
  let generation = 0;
  const unlisten = await database.listen(
    API_KEYS_CHANNEL,
    (id) => {
      generation++;
      for (const [hash, entry] of entries) if (entry.owner.id === id) entries.delete(hash);
    },
    // The listener was away: any cached key may have been revoked meanwhile.
    () => {
      generation++;
      entries.clear();
    },
  );
  return {
    async find(key) {
      if (!looksLikeApiKey(key)) return null;
      const hash = hashApiKey(key);
      const now = performance.now();
      const cached = entries.get(hash);
      if (cached && now - cached.at < ttlMs) return cached.owner;
      const seen = generation;
      const owner = await findApiKeyByHash(database.db, hash);
      if (owner && seen === generation) {
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
        entries.set(hash, { owner, at: now });
      }
      return owner;
    },
    stop: unlisten,
  };
}
