import { indexCheckpoint } from "../../db/governance-queries.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";

export const syncStatusQueries = {
  async syncStatus(_: unknown, __: unknown, ctx: ApiContext) {
    const [checkpoint, head] = await Promise.all([
      indexCheckpoint(ctx.deps.database.db),
      ctx.deps.provider.getBlockNumber().catch((cause: unknown) => {
        throw new AppError("RPC_ERROR", "cannot read the chain head from the RPC endpoint", { cause });
      }),
    ]);
    const indexed = checkpoint?.block_number ?? 0;
    return {
      indexedBlock: indexed,
      indexedBlockTime: checkpoint?.block_time ?? null,
      chainHead: head,
      lag: Math.max(0, head - indexed),
      lastError: checkpoint?.last_error ?? null,
      lastErrorAt: checkpoint?.last_error_at?.toISOString() ?? null,
      updatedAt: checkpoint?.updated_at.toISOString() ?? null,
    };
  },
};
