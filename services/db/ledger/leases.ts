import { type Kysely, sql } from "kysely";
import type { Database } from "../schema.ts";

/** Which rows a slice comes from: a consumer's per-minute counter on a model, and one grant's budget. */
export interface SliceKey {
  consumer: string;
  model: string;
  minuteStart: number;
  requestsPerMinute: number;
  account: string;
  epochStart: number;
  limit: number;
}

/** Bounds of one slice: none below `min*` of room, at most an eighth of the room and `max*`. */
export interface SliceSize {
  minRequests: number;
  maxRequests: number;
  minTokens: number;
  maxTokens: number;
}

/** Whose slices these are (a replica's id) and how long they stay theirs without a renewal. */
export interface LeaseOwner {
  owner: string;
  expiresInMs: number;
}

/**
 * Takes a slice of the per-minute count and of the grant from the guarded rows (gateway_lease,
 * services/db/ledger/): what it returns is the owner's to admit in memory until the lease expires.
 * Either part may be 0.
 */
export async function takeSlice(
  db: Kysely<Database>,
  lease: LeaseOwner,
  key: SliceKey,
  size: SliceSize,
): Promise<{ requests: number; tokens: number }> {
  const { rows } = await sql<{ granted_requests: string; granted_tokens: string }>`
    select * from gateway_lease(${lease.owner}, ${lease.expiresInMs}, ${key.consumer}, ${key.model},
      ${key.minuteStart}, ${key.requestsPerMinute}, ${size.minRequests}, ${size.maxRequests}, ${key.account},
      ${key.epochStart}, ${key.limit}, ${size.minTokens}, ${size.maxTokens})`.execute(db);
  return { requests: Number(rows[0]?.granted_requests ?? 0), tokens: Number(rows[0]?.granted_tokens ?? 0) };
}

/**
 * Gives back the unused part of the owner's slices; `null` gives back everything the owner's lease row
 * holds (when none of its calls is in flight on it). What was already reclaimed is not given twice.
 */
export async function returnSlice(
  db: Kysely<Database>,
  owner: string,
  key: Pick<SliceKey, "consumer" | "model" | "minuteStart" | "account" | "epochStart">,
  unused: { requests: number | null; tokens: number | null },
): Promise<void> {
  await sql`select gateway_lease_return(${owner}, ${key.consumer}, ${key.model}, ${key.minuteStart},
      ${unused.requests}::bigint, ${key.account}, ${key.epochStart}, ${unused.tokens}::bigint)`.execute(db);
}

/** Extends every lease of the owner by `expiresInMs` from now; returns how many it holds. */
export async function renewLeases(db: Kysely<Database>, lease: LeaseOwner): Promise<number> {
  const result = await db
    .updateTable("gateway_leases")
    .set({ expires_at: sql`now() + ${lease.expiresInMs} * interval '1 millisecond'` })
    .where("owner", "=", lease.owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
