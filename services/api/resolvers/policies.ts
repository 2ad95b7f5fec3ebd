import { loadPoolRows } from "../../db/gateway-policy-rows.ts";
import {
  countGrants,
  type GrantFilter,
  type GrantRow,
  grantPosition,
  listGrants,
  listGuardianChanges,
  listPolicies,
  type PolicyVersionRow,
  policyPosition,
} from "../../db/governance-queries.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";
import type { QueryAllocationsArgs, QueryPoliciesArgs } from "../generated/resolvers.ts";
import { pageRequest, toConnection } from "../pagination.ts";
import type { PoolRows } from "../parents.ts";
import { provenance } from "./shapes.ts";

export const policyQueries = {
  async policies(_: unknown, args: QueryPoliciesArgs, ctx: ApiContext) {
    const page = pageRequest(args, ["text"]);
    const rows = await listPolicies(
      ctx.deps.database.db,
      {
        ...(args.approved != null ? { approved: args.approved } : {}),
        ...(args.suspended != null ? { suspended: args.suspended } : {}),
      },
      page,
    );
    return toConnection(rows, policyPosition, (r) => ({ modelId: r.model_id, current: r }));
  },

  async policy(_: unknown, args: { model: string }, ctx: ApiContext) {
    const versions = await ctx.loaders.policyHistory(args.model);
    const current = versions[0];
    return current ? { modelId: current.model_id, current } : null;
  },

  async guardianChanges(_: unknown, args: { first?: number | null }, ctx: ApiContext) {
    const first = args.first ?? 20;
    if (!Number.isInteger(first) || first < 1 || first > 100) {
      throw new AppError("BAD_USER_INPUT", "first must be between 1 and 100");
    }
    const rows = await listGuardianChanges(ctx.deps.database.db, first);
    return rows.map((r) => ({ kind: r.kind, value: r.value, enactedBy: provenance(r) }));
  },

  async allocations(_: unknown, args: QueryAllocationsArgs, ctx: ApiContext) {
    const page = pageRequest(args, ["uint256"]);
    const filter: GrantFilter = {
      ...(args.grantee ? { grantee: args.grantee } : {}),
      ...(args.model != null ? { model: args.model } : {}),
      includeRevoked: args.includeRevoked ?? false,
    };
    const db = ctx.deps.database.db;
    const rows = await listGrants(db, filter, page);
    return {
      ...toConnection(rows, grantPosition, (r) => r),
      totalCount: () => countGrants(db, filter),
      communityPool: async (): Promise<PoolRows | null> => {
        const { pool, poolEligibility } = await loadPoolRows(db);
        return pool === null ? null : { pool, poolEligibility };
      },
    };
  },
};

export const ModelPolicy = {
  history: (m: { modelId: string }, _: unknown, ctx: ApiContext) => ctx.loaders.policyHistory(m.modelId),
};

export const PolicyVersion = {
  modelId: (v: PolicyVersionRow) => v.model_id,
  suspendReason: (v: PolicyVersionRow) => v.suspend_reason,
  suspendedUntil: (v: PolicyVersionRow) => v.suspended_until,
  suspendedBy: (v: PolicyVersionRow) => v.suspended_by,
  maxTokensPerRequest: (v: PolicyVersionRow) => v.max_tokens_per_request,
  requestsPerMinute: (v: PolicyVersionRow) => v.requests_per_minute,
  allowedPurposes: (v: PolicyVersionRow) => v.allowed_purposes,
  blockedTerms: (v: PolicyVersionRow) => v.blocked_terms,
  guidelineUri: (v: PolicyVersionRow) => v.guideline_uri,
  guidelineHash: (v: PolicyVersionRow) => v.guideline_hash,
  enactedBy: (v: PolicyVersionRow) => provenance(v),
};

export const Grant = {
  grantId: (g: GrantRow) => g.grant_id,
  modelId: (g: GrantRow) => g.model_id,
  tokensPerEpoch: (g: GrantRow) => g.tokens_per_epoch,
  start: (g: GrantRow) => g.start_time,
  end: (g: GrantRow) => g.end_time,
  enactedBy: (g: GrantRow) => provenance(g),
  revokedBy: (g: GrantRow) =>
    g.revoked && g.revoked_tx !== null && g.revoked_block !== null
      ? {
          proposalId: g.revoked_proposal_id,
          transactionHash: g.revoked_tx,
          blockNumber: g.revoked_block,
        }
      : null,
};

export const CommunityPool = {
  allowancePerAddress: (p: PoolRows) => p.pool.allowance_per_address,
  poolSizePerEpoch: (p: PoolRows) => p.pool.pool_size_per_epoch,
  epochLength: (p: PoolRows) => p.pool.epoch_length,
  enactedBy: (p: PoolRows) => provenance(p.pool),
  minVotes: (p: PoolRows) => p.poolEligibility?.min_votes ?? "0",
  minVotesEnactedBy: (p: PoolRows) => (p.poolEligibility === null ? null : provenance(p.poolEligibility)),
};
