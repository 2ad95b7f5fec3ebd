import type { PeriodTotals } from "../db/receipt-tables.ts";
import {
  type AuditRecord,
  type PublicReceipt,
  publicLeaf,
  publicReceiptOf,
  type Receipt,
  receiptLeafBytes,
  receiptOf,
} from "./encoding.ts";
import { buildTree, type ReceiptTree } from "./tree.ts";

/**
 * Anchoring periods are numbered from the Unix epoch: period N covers [N * length, (N + 1) * length).
 * With the default hour, every pool epoch (a whole number of days) ends on a period's end, so each
 * epoch's end is anchored with the period that closes it.
 */
export function periodAt(ms: number, lengthMs: number): number {
  return Math.floor(ms / lengthMs);
}

export function periodBounds(period: number, lengthMs: number): { startsAt: Date; endsAt: Date } {
  return { startsAt: new Date(period * lengthMs), endsAt: new Date((period + 1) * lengthMs) };
}

export interface PeriodContent {
  receipts: Receipt[];
  tree: ReceiptTree;
  totalTokens: bigint;
  totals: PeriodTotals;
}

function tally(receipts: readonly Receipt[], key: (r: Receipt) => string) {
  const by = new Map<string, { calls: number; tokens: bigint }>();
  for (const r of receipts) {
    const entry = by.get(key(r)) ?? { calls: 0, tokens: 0n };
    entry.calls++;
    entry.tokens += r.chargedTokens;
    by.set(key(r), entry);
  }
  return [...by].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A period's receipts, tree and totals (per model and per budget source; a refusal's source is ""). */
export function buildPeriod(records: readonly AuditRecord[]): PeriodContent {
  const receipts = records.map(receiptOf);
  const tree = buildTree(receipts.map(receiptLeafBytes));
  return {
    receipts,
    tree,
    totalTokens: receipts.reduce((sum, r) => sum + r.chargedTokens, 0n),
    totals: {
      models: tally(receipts, (r) => r.model).map(([model, t]) => ({
        model,
        calls: t.calls,
        tokens: t.tokens.toString(),
      })),
      sources: tally(receipts, (r) => r.budgetSource).map(([source, t]) => ({
        source,
        calls: t.calls,
        tokens: t.tokens.toString(),
      })),
    },
  };
}

/**
 * A period's public receipts, as its file serves them: in the order of their leaves (the tree's order), so
 * the file does not tell when each call came either.
 */
export function publicReceipts(records: readonly AuditRecord[]): PublicReceipt[] {
  return records
    .map((record) => {
      const receipt = publicReceiptOf(receiptOf(record));
      return { receipt, leaf: publicLeaf(receipt) };
    })
    .sort((a, b) => (a.leaf < b.leaf ? -1 : a.leaf > b.leaf ? 1 : 0))
    .map(({ receipt }) => receipt);
}
