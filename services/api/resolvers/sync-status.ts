import { indexCheckpoint } from "../../db/governance-queries.ts";
import { redactSecrets, secretsOf } from "../../shared/secrets.ts";
import type { ApiContext } from "../context.ts";

export const syncStatusQueries = {
  async syncStatus(_: unknown, __: unknown, ctx: ApiContext) {
    const [checkpoint, head] = await Promise.all([
      ctx.perRequest("checkpoint", () => indexCheckpoint(ctx.deps.database.db)),
      ctx.chainHead(),
    ]);
    const indexed = checkpoint?.block_number ?? 0;
    return {
      indexedBlock: indexed,
      indexedBlockTime: checkpoint?.block_time ?? null,
      chainHead: head,
      lag: Math.max(0, head - indexed),
      // An RPC error may have been recorded with the endpoint's URL in it (and a provider key in that).
      lastError: checkpoint?.last_error ? redactSecrets(checkpoint.last_error, secretsOf(ctx.deps.config)) : null,
      lastErrorAt: checkpoint?.last_error_at?.toISOString() ?? null,
      updatedAt: checkpoint?.updated_at.toISOString() ?? null,
    };
  },
};
