import { LRUCache } from "lru-cache";
import { anchoredPeriods, listReceiptRecords, type PeriodRow, periodRow, receiptRecord } from "../../db/receipts.ts";
import { type AuditRecord, publicLeaf, publicReceiptOf, type Receipt, receiptOf } from "../../receipts/encoding.ts";
import { periodAt } from "../../receipts/period.ts";
import { proofOf, type ReceiptTree, treeFromNodes } from "../../receipts/tree.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors.ts";
import { type ApiContext, readableConsumer } from "../context.ts";
import { pageRequest, toConnection } from "../pagination.ts";

/** A period as the API shows it (the tree itself stays in the database). */
export type PeriodView = Omit<PeriodRow, "nodes" | "built_at" | "tx_nonce" | "tx_raw" | "block_hash" | "format">;

export interface ReceiptNode extends Receipt {
  sealed: string;
  leaf: string;
  period: number;
  instant: Date;
}

/**
 * Totals per budget source as the public sees them: a grant's id names its grantee on chain, so grants are
 * counted together (`grant`), like the pool; per grant they are private usage.
 */
function bySourceKind(sources: readonly { source: string; calls: number; tokens: string }[]) {
  const kinds = new Map<string, { calls: number; tokens: bigint }>();
  for (const s of sources) {
    const key = s.source.startsWith("grant:") ? "grant" : s.source;
    const entry = kinds.get(key) ?? { calls: 0, tokens: 0n };
    entry.calls += s.calls;
    entry.tokens += BigInt(s.tokens);
    kinds.set(key, entry);
  }
  return [...kinds].map(([key, t]) => ({ key, calls: t.calls, tokens: t.tokens.toString() }));
}

/**
 * receipt, receipts and usagePeriods. A receipt is private (its consumer, request, times, budget): its
 * consumer's API key or the operator token reads it; the public reads periods and their files, which
 * name no one (services/receipts/encoding.ts). A receipt's proof comes from its period's stored tree; the last few
 * trees are kept in memory, since receipts of one period are asked for together (a consumer's list, the CLI).
 */
export function createReceiptResolvers(deps: Pick<Deps, "config" | "database" | "deployment">) {
  const db = deps.database.db;
  const periodMs = deps.config.ANCHOR_PERIOD_S * 1000;
  const trees = new LRUCache<number, { row: PeriodRow; tree: ReceiptTree }>({ max: 4 });

  async function periodTree(period: number) {
    const cached = trees.get(period);
    // Only a final tree is cached: a period not yet anchored may still be reorganised back to sent.
    if (cached) return cached;
    const row = await periodRow(db, period);
    if (!row) return undefined;
    const entry = { row, tree: treeFromNodes(new Uint8Array(row.nodes)) };
    if (row.state === "anchored") trees.set(period, entry);
    return entry;
  }

  const node = (record: AuditRecord & { instant: Date }): ReceiptNode => {
    const receipt = receiptOf(record);
    const sealedPart = publicReceiptOf(receipt);
    return {
      ...receipt,
      sealed: sealedPart.sealed,
      leaf: publicLeaf(sealedPart),
      period: periodAt(record.instant.getTime(), periodMs),
      instant: record.instant,
    };
  };

  const periodView = (row: PeriodView) => ({
    ...row,
    contract: deps.deployment.usageAnchor ?? null,
  });

  return {
    queries: {
      async receipt(_: unknown, args: { requestId: string }, ctx: ApiContext) {
        const caller = await ctx.caller();
        if (caller.kind === "anonymous") {
          throw new AppError("UNAUTHENTICATED", "send `Authorization: Bearer <api key>` to read your receipts");
        }
        const record = await receiptRecord(db, args.requestId);
        // Someone else's call is answered as a call that does not exist: the answer must not tell which ids are real.
        const readable =
          record !== undefined &&
          (caller.kind === "operator" || record.consumer?.toLowerCase() === caller.address.toLowerCase());
        if (!readable) throw new AppError("NOT_FOUND", `no settled call ${args.requestId} of yours`);
        return node(record);
      },

      async receipts(
        _: unknown,
        args: { first?: number; after?: string | null; consumer?: string | null },
        ctx: ApiContext,
      ) {
        const page = pageRequest(args, ["int64", "text"]);
        const consumer = await readableConsumer(ctx, args.consumer ?? undefined);
        const after = page.after
          ? { instant: new Date(Number(page.after[0])), requestId: String(page.after[1]) }
          : undefined;
        const rows = await listReceiptRecords(db, consumer === undefined ? {} : { consumer }, {
          first: page.first + 1,
          ...(after ? { after } : {}),
        });
        return toConnection(
          { rows: rows.slice(0, page.first), hasNextPage: rows.length > page.first },
          (r) => [String(r.instant.getTime()), r.request_id],
          node,
        );
      },

      async usagePeriods(_: unknown, args: { first?: number; after?: string | null }) {
        const page = pageRequest(args, ["int64"]);
        const rows = await anchoredPeriods(db, {
          first: page.first + 1,
          ...(page.after ? { before: Number(page.after[0]) } : {}),
        });
        return toConnection(
          { rows: rows.slice(0, page.first), hasNextPage: rows.length > page.first },
          (r) => [String(r.period)],
          periodView,
        );
      },
    },

    Receipt: {
      async proof(r: ReceiptNode) {
        const entry = await periodTree(r.period);
        return entry ? proofOf(entry.tree, r.leaf) : null;
      },
      async usagePeriod(r: ReceiptNode) {
        const entry = await periodTree(r.period);
        return entry ? periodView(entry.row) : null;
      },
    },

    UsagePeriod: {
      startsAt: (p: PeriodView) => p.starts_at.toISOString(),
      endsAt: (p: PeriodView) => p.ends_at.toISOString(),
      receiptCount: (p: PeriodView) => Number(p.receipt_count),
      totalTokens: (p: PeriodView) => String(p.total_tokens),
      state: (p: PeriodView) => p.state.toUpperCase() as Uppercase<PeriodView["state"]>,
      transaction: (p: PeriodView) => p.tx_hash,
      blockNumber: (p: PeriodView) => (p.block_number === null ? null : Number(p.block_number)),
      anchoredAt: (p: PeriodView) => p.anchored_at?.toISOString() ?? null,
      byModel: (p: PeriodView) => p.totals.models.map((m) => ({ key: m.model, calls: m.calls, tokens: m.tokens })),
      bySource: (p: PeriodView) => bySourceKind(p.totals.sources),
    },
  };
}
