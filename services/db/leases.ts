import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

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

/**
 * Takes a slice of the per-minute count and of the grant from the guarded rows (gateway_lease,
 * migrations/0007): what it returns is this replica's to admit in memory. Either part may be 0.
 */
export async function takeSlice(
  db: Kysely<Database>,
  key: SliceKey,
  size: SliceSize,
): Promise<{ requests: number; tokens: number }> {
  const { rows } = await sql<{ granted_requests: string; granted_tokens: string }>`
    select * from gateway_lease(${key.consumer}, ${key.model}, ${key.minuteStart}, ${key.requestsPerMinute},
      ${size.minRequests}, ${size.maxRequests}, ${key.account}, ${key.epochStart}, ${key.limit},
      ${size.minTokens}, ${size.maxTokens})`.execute(db);
  return { requests: Number(rows[0]?.granted_requests ?? 0), tokens: Number(rows[0]?.granted_tokens ?? 0) };
}

/** Gives back the unused part of a slice. */
export async function returnSlice(
  db: Kysely<Database>,
  key: Pick<SliceKey, "consumer" | "model" | "minuteStart" | "account" | "epochStart">,
  unused: { requests: number; tokens: number },
): Promise<void> {
  await sql`select gateway_lease_return(${key.consumer}, ${key.model}, ${key.minuteStart}, ${unused.requests},
      ${key.account}, ${key.epochStart}, ${unused.tokens})`.execute(db);
}
