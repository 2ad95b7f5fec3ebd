import type { PolicyRows } from "../db/gateway-policy-rows.ts";
import { blockedTermForm } from "./content.ts";
import type {
  GrantPolicy,
  ModelPolicy,
  ModelRules,
  PolicySnapshot,
  PoolPolicy,
  Provenance,
  SnapshotSettings,
} from "./types.ts";

/** Epoch length used before the index has seen the pool (the allocator always sets one at deploy). */
const FALLBACK_EPOCH_SECONDS = 86_400;

/** Token amounts above 2^53 - 1 are unlimited in practice; numbers keep decisions allocation-free. */
export function tokenAmount(value: string | bigint): number {
  const n = BigInt(value);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/** A model's policy as decisions read it: the rules plus the forms matching needs, computed once. */
export function modelPolicyOf(rules: ModelRules, provenance: Provenance): ModelPolicy {
  return {
    ...rules,
    allowedPurposeSet: new Set(rules.allowedPurposes.map((p) => p.toLowerCase())),
    blockedTermForms: rules.blockedTerms.map(blockedTermForm).filter((t) => t !== ""),
    provenance,
  };
}

function provenanceOf(row: { proposal_id: string | null; tx_hash: string; block_number: number; block_time: number }) {
  return {
    proposalId: row.proposal_id,
    txHash: row.tx_hash,
    blockNumber: Number(row.block_number),
    blockTime: Number(row.block_time),
  };
}

function modelPolicy(row: PolicyRows["policies"][number]): ModelPolicy {
  return modelPolicyOf(
    {
      modelId: row.model_id,
      version: row.version,
      approved: row.approved,
      suspended: row.suspended,
      suspendReason: row.suspend_reason,
      suspendedUntil: row.suspended_until === null ? null : Number(row.suspended_until),
      maxTokensPerRequest: Number(row.max_tokens_per_request),
      requestsPerMinute: Number(row.requests_per_minute),
      allowedPurposes: row.allowed_purposes,
      blockedTerms: row.blocked_terms,
      guidelineUri: row.guideline_uri,
      guidelineHash: row.guideline_hash,
    },
    provenanceOf(row),
  );
}

/** A live grant as decisions read it; its spending is counted on the account `grant:<id>`. */
export function grantPolicyOf(
  grant: { grantId: string; grantee: string; modelId: string; tokensPerEpoch: number; start: number; end: number },
  provenance: Provenance,
): GrantPolicy {
  return { ...grant, account: `grant:${grant.grantId}`, provenance };
}

function grantPolicy(row: PolicyRows["grants"][number]): GrantPolicy {
  return grantPolicyOf(
    {
      grantId: String(row.grant_id),
      grantee: row.grantee,
      modelId: row.model_id,
      tokensPerEpoch: tokenAmount(row.tokens_per_epoch),
      start: Number(row.start_time),
      end: Number(row.end_time),
    },
    provenanceOf(row),
  );
}

/** The community pool in force and who may draw on it, from the newest index rows of each. */
export function poolPolicy(rows: Pick<PolicyRows, "pool" | "poolEligibility">): PoolPolicy {
  const row = rows.pool;
  const minVotes = rows.poolEligibility === null ? 0n : BigInt(rows.poolEligibility.min_votes);
  if (row === null) {
    return {
      allowancePerAddress: 0,
      poolSizePerEpoch: 0,
      epochLength: FALLBACK_EPOCH_SECONDS,
      provenance: null,
      minVotes,
    };
  }
  return {
    minVotes,
    allowancePerAddress: tokenAmount(row.allowance_per_address),
    poolSizePerEpoch: tokenAmount(row.pool_size_per_epoch),
    epochLength: Number(row.epoch_length),
    provenance: provenanceOf(row),
  };
}

/** Narrow grants are spent before broad ones, then the oldest grant first. */
export function spendingOrder(a: GrantPolicy, b: GrantPolicy): number {
  if ((a.modelId === "") !== (b.modelId === "")) return a.modelId === "" ? 1 : -1;
  const d = BigInt(a.grantId) - BigInt(b.grantId);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** Builds the in-memory snapshot decisions read; done once per refresh, never per call. */
export function buildSnapshot(rows: PolicyRows, settings: SnapshotSettings): PolicySnapshot {
  const models = new Map(rows.policies.map((r) => [r.model_id, modelPolicy(r)]));
  const grantsByConsumer = new Map<string, GrantPolicy[]>();
  for (const row of rows.grants) {
    const grant = grantPolicy(row);
    const list = grantsByConsumer.get(grant.grantee) ?? [];
    list.push(grant);
    grantsByConsumer.set(grant.grantee, list);
  }
  for (const list of grantsByConsumer.values()) list.sort(spendingOrder);
  const checkpoint = rows.checkpoint;
  return {
    models,
    grantsByConsumer,
    pool: poolPolicy(rows),
    index:
      checkpoint === null
        ? null
        : {
            blockNumber: Number(checkpoint.block_number),
            headBlock: Number(checkpoint.head_block),
            heartbeatAt: checkpoint.updated_at.getTime(),
          },
    settings,
  };
}
