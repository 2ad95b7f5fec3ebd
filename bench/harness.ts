import { mkdirSync, writeFileSync } from "node:fs";

/** One measured figure; `target` states the goal in words, `met` whether this run reached it. */
export interface BenchRow {
  metric: string;
  value: number;
  unit: string;
  target?: string;
  met?: boolean;
}

export interface BenchResult {
  name: string;
  startedAt: string;
  machine: { cpus: number; node: string };
  rows: BenchRow[];
  notes?: string[];
}

/**
 * Runs one benchmark, prints its table and writes bench/results/<name>.json. Every benchmark of
 * `npm run bench` goes through here, so the figures look the same and land in one place.
 */
export async function runBench(
  name: string,
  body: (log: (line: string) => void) => Promise<{ rows: BenchRow[]; notes?: string[] }>,
): Promise<BenchResult> {
  const log = (line: string) => console.log(`[${name}] ${line}`);
  const startedAt = new Date().toISOString();
  log("starting");
  const { rows, notes } = await body(log);
  const { availableParallelism } = await import("node:os");
  const result: BenchResult = {
    name,
    startedAt,
    machine: { cpus: availableParallelism(), node: process.version },
    rows,
    ...(notes ? { notes } : {}),
  };
  console.log(`\n${name}`);
  console.table(
    rows.map((r) => ({
      metric: r.metric,
      value: Number.isInteger(r.value) ? r.value : Number(r.value.toFixed(3)),
      unit: r.unit,
      target: r.target ?? "",
      met: r.met === undefined ? "" : r.met ? "yes" : "NO",
    })),
  );
  for (const note of notes ?? []) console.log(`  note: ${note}`);
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`${name}.json`, dir), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** Percentile of a list of numbers (p in 0..100), nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
