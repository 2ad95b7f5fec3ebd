import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** Calls shadowed under one proposal, grouped by their live outcome and their shadow one. */
export interface ShadowGroup {
  /** ADMITTED or the live refusal's reason code. */
  live: string;
  /** ADMITTED or the shadow refusal's reason code; null: the shadow evaluation failed. */
  shadow: string | null;
  calls: number;
  consumers: number;
  /** What the live calls were charged. */
  tokensUsed: number;
  /** What the shadow decisions would have reserved (those that admit). */
  shadowReserved: number;
}

export interface ShadowObservations {
  groups: ShadowGroup[];
  /** Distinct consumers with at least one call whose outcome differs. */
  consumersAffected: number;
  /** The first and the last call shadowed, unix seconds; null before any. */
  since: number | null;
  until: number | null;
}

/**
 * What shadow mode recorded of `proposalId` in the audit (migrations/0021): one aggregate over the records
 * that carry it, found through the partial GIN index on `shadow`.
 */
export async function shadowObservations(db: Kysely<Database>, proposalId: string): Promise<ShadowObservations> {
  const { rows } = await sql<{
    live: string;
    shadow: string | null;
    calls: string;
    consumers: string;
    tokens_used: string;
    shadow_reserved: string;
    affected: string;
    since: Date;
    until: Date;
  }>`
    with shadowed as (
      select consumer, tokens_used, created_at,
        case when admitted then 'ADMITTED' else reason_code end as live,
        shadow -> ${proposalId}::text ->> 'o' as shadow,
        coalesce((shadow -> ${proposalId}::text ->> 't')::bigint, 0) as shadow_reserved
      from gateway_decisions where shadow ? ${proposalId}::text)
    select live, shadow, count(*) as calls, count(distinct consumer) as consumers,
      coalesce(sum(tokens_used), 0) as tokens_used, coalesce(sum(shadow_reserved), 0) as shadow_reserved,
      (select count(distinct consumer) from shadowed where shadow is not null and shadow <> live) as affected,
      (select min(created_at) from shadowed) as since, (select max(created_at) from shadowed) as until
    from shadowed group by live, shadow`.execute(db);
  const first = rows[0];
  return {
    groups: rows.map((r) => ({
      live: r.live,
      shadow: r.shadow,
      calls: Number(r.calls),
      consumers: Number(r.consumers),
      tokensUsed: Number(r.tokens_used),
      shadowReserved: Number(r.shadow_reserved),
    })),
    consumersAffected: Number(first?.affected ?? 0),
    since: first ? Math.floor(first.since.getTime() / 1000) : null,
    until: first ? Math.floor(first.until.getTime() / 1000) : null,
  };
}
