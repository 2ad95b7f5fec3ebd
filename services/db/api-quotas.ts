import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** One amount to count against one quota: `subject`'s use of `scope` may not pass `limit` in the window. */
export interface QuotaCharge {
  scope: string;
  subject: string;
  amount: bigint;
  limit: bigint;
}

export type QuotaResult = { ok: true; used: Map<string, bigint> } | { ok: false; refused: QuotaCharge; used: bigint };

const keyOf = (c: { scope: string; subject: string }) => `${c.scope}:${c.subject}`;

class QuotaRefused extends Error {
  constructor(
    readonly refused: QuotaCharge,
    readonly used: bigint,
  ) {
    super(`quota ${refused.scope} of ${refused.subject} is used up`);
  }
}

/**
 * Counts every charge in the window starting at `windowStart`, or none of them: each counter is raised
 * only while it stays within its limit (a conditional upsert, so replicas charging at once serialise on
 * the row and never pass the limit together). Counters are taken in one order, so that two calls
 * charging the same counters cannot deadlock. On success, what each counter now stands at.
 */
export async function chargeQuotas(
  db: Kysely<Database>,
  windowStart: Date,
  charges: QuotaCharge[],
): Promise<QuotaResult> {
  const ordered = [...charges].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  try {
    const used = await db.transaction().execute(async (trx) => {
      const now = new Map<string, bigint>();
      for (const charge of ordered) {
        if (charge.amount > charge.limit) throw new QuotaRefused(charge, 0n);
        const row = await sql<{ used: string }>`
          insert into api_quota_counters (scope, subject, window_start, used)
          values (${charge.scope}, ${charge.subject}, ${windowStart}, ${charge.amount.toString()})
          on conflict (scope, subject, window_start) do update
            set used = api_quota_counters.used + excluded.used
            where api_quota_counters.used + excluded.used <= ${charge.limit.toString()}
          returning used`.execute(trx);
        const counted = row.rows[0];
        if (!counted) {
          const current = await trx
            .selectFrom("api_quota_counters")
            .select("used")
            .where("scope", "=", charge.scope)
            .where("subject", "=", charge.subject)
            .where("window_start", "=", windowStart)
            .executeTakeFirst();
          throw new QuotaRefused(charge, BigInt(current?.used ?? 0));
        }
        now.set(keyOf(charge), BigInt(counted.used));
      }
      return now;
    });
    return { ok: true, used };
  } catch (error) {
    if (error instanceof QuotaRefused) return { ok: false, refused: error.refused, used: error.used };
    throw error;
  }
}

/** Gives back what `chargeQuotas` counted for an action that then did not happen. */
export async function refundQuotas(db: Kysely<Database>, windowStart: Date, charges: QuotaCharge[]): Promise<void> {
  const ordered = [...charges].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  await db.transaction().execute(async (trx) => {
    for (const charge of ordered) {
      await trx
        .updateTable("api_quota_counters")
        .set({ used: sql`greatest(0, used - ${charge.amount.toString()}::numeric)` })
        .where("scope", "=", charge.scope)
        .where("subject", "=", charge.subject)
        .where("window_start", "=", windowStart)
        .execute();
    }
  });
}

/** Deletes counters of windows that started before `before` (they can no longer refuse anything). */
export async function sweepQuotas(db: Kysely<Database>, before: Date): Promise<void> {
  await db.deleteFrom("api_quota_counters").where("window_start", "<", before).execute();
}

/**
 * Claims the relay of `voter`'s ballot on `proposalId`; false when it is already claimed (being relayed
 * or relayed, here or on another replica).
 */
export async function claimBallot(db: Kysely<Database>, proposalId: bigint, voter: string): Promise<boolean> {
  const row = await db
    .insertInto("relay_claims")
    .values({ proposal_id: proposalId.toString(), voter })
    .onConflict((c) => c.columns(["proposal_id", "voter"]).doNothing())
    .returning("voter")
    .executeTakeFirst();
  return row !== undefined;
}

/** Records the transaction a claimed ballot was relayed in. */
export async function recordBallotRelay(db: Kysely<Database>, proposalId: bigint, voter: string, txHash: string) {
  await db
    .updateTable("relay_claims")
    .set({ tx_hash: txHash })
    .where("proposal_id", "=", proposalId.toString())
    .where("voter", "=", voter)
    .execute();
}

/** Releases a claim whose relay did not happen, so that the ballot can be sent again. */
export async function releaseBallot(db: Kysely<Database>, proposalId: bigint, voter: string): Promise<void> {
  await db
    .deleteFrom("relay_claims")
    .where("proposal_id", "=", proposalId.toString())
    .where("voter", "=", voter)
    .where("tx_hash", "is", null)
    .execute();
}
