import { loadPoolRows } from "../db/gateway-policy-rows.ts";
import { settledVotesAt } from "../db/voting-power.ts";
import { isPoolEligible, poolEpochStart, poolIneligibility } from "../policy/decide.ts";
import { poolPolicy } from "../policy/snapshot.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors.ts";

/**
 * Keys are for addresses the commons gives compute to: a live grant (not revoked, not ended), or a
 * place in the community pool this epoch (docs/security.md). Anyone else is refused before a key
 * exists, so that twenty fresh wallets are twenty refusals rather than twenty pool allowances.
 * The gateway applies the same rule to every call (decide), since eligibility changes with epochs.
 */
export async function assertMayDrawCompute(deps: Pick<Deps, "database" | "now">, address: string): Promise<void> {
  const db = deps.database.db;
  const nowMs = deps.now();
  const grant = await db
    .selectFrom("grants")
    .select("grant_id")
    .where("grantee", "=", address)
    .where("revoked", "=", false)
    .where("end_time", ">", Math.floor(nowMs / 1000))
    .limit(1)
    .executeTakeFirst();
  if (grant !== undefined) return;
  const pool = poolPolicy(await loadPoolRows(db));
  if (pool.minVotes === 0n) return;
  const epochStart = poolEpochStart(pool, nowMs);
  const standing = await settledVotesAt(db, address, epochStart);
  if (isPoolEligible(pool, standing, epochStart)) return;
  throw new AppError(
    "FORBIDDEN",
    `${address} has no live grant, and ${poolIneligibility(pool, standing, epochStart)} (next epoch: ${new Date((epochStart + pool.epochLength) * 1000).toISOString()})`,
    {
      details: {
        reason: "NOT_ELIGIBLE",
        minVotes: pool.minVotes.toString(),
        votes: standing === null ? null : standing.votes.toString(),
        epochStart,
        nextEpochStart: epochStart + pool.epochLength,
      },
    },
  );
}
