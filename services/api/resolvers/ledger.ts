import { type DecisionRow, listDecisions } from "../../db/gateway-decisions.ts";
import { usageFor } from "../../db/ledger/client.ts";
import { AppError } from "../../shared/errors.ts";
import { type ApiContext, readableConsumer } from "../context.ts";
import type { QueryDecisionsArgs } from "../generated/resolvers.ts";
import { pageRequest, toConnection } from "../pagination.ts";

function isoTime(field: string, value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new AppError("BAD_USER_INPUT", `${field} must be an ISO 8601 time`);
  return date;
}

export const ledgerQueries = {
  async usage(
    _: unknown,
    args: { consumer?: string | null; model?: string | null; epochStart?: number | null },
    ctx: ApiContext,
  ) {
    const consumer = await readableConsumer(ctx, args.consumer ?? undefined);
    return usageFor(ctx.deps.database.db, {
      ...(consumer !== undefined ? { consumer } : {}),
      ...(args.model != null ? { model: args.model } : {}),
      ...(args.epochStart != null ? { epochStart: args.epochStart } : {}),
    });
  },

  async decisions(_: unknown, args: QueryDecisionsArgs, ctx: ApiContext) {
    const page = pageRequest(args, ["int64"]);
    const f = args.filter ?? {};
    const consumer = await readableConsumer(ctx, f.consumer ?? undefined);
    const result = await listDecisions(
      ctx.deps.database.db,
      {
        ...(consumer !== undefined ? { consumer } : {}),
        ...(f.model != null ? { model: f.model } : {}),
        ...(f.admitted != null ? { admitted: f.admitted } : {}),
        ...(f.reasonCode != null ? { reasonCode: f.reasonCode } : {}),
        ...(f.since != null ? { since: isoTime("since", f.since) } : {}),
        ...(f.until != null ? { until: isoTime("until", f.until) } : {}),
      },
      { first: page.first, ...(page.after ? { after: String(page.after[0]) } : {}) },
    );
    return toConnection(
      { rows: result.rows, hasNextPage: result.hasMore },
      (r) => [String(r.id)],
      (r) => r,
    );
  },
};

export const Usage = {
  model: (u: { model: string }) => u.model,
  grantId: (u: { source: string; sourceId: string }) => (u.source === "grant" ? u.sourceId : null),
};

export const Decision = {
  requestId: (d: DecisionRow) => d.request_id,
  model: (d: DecisionRow) => d.model_id,
  reasonCode: (d: DecisionRow) => d.reason_code,
  policyVersion: (d: DecisionRow) => d.policy_version,
  proposalId: (d: DecisionRow) => d.proposal_id,
  grantId: (d: DecisionRow) => (d.source === "grant" ? d.source_id : null),
  tokensReserved: (d: DecisionRow) => d.tokens_reserved,
  tokensUsed: (d: DecisionRow) => d.tokens_used,
  latencyMs: (d: DecisionRow) => d.latency_ms,
  createdAt: (d: DecisionRow) => d.created_at.toISOString(),
};
