import type { UsagePoint } from "./usage-chart.tsx";

/** A bucket size that gives a readable chart for the span the calls cover. */
export function bucketFor(spanSeconds: number): { seconds: number; label: string } {
  if (spanSeconds <= 2 * 3600) return { seconds: 60, label: "minute" };
  if (spanSeconds <= 2 * 86_400) return { seconds: 3600, label: "hour" };
  return { seconds: 86_400, label: "day" };
}

/** Sums decisions into time buckets (empty buckets included, so gaps show as gaps). */
export function usageOverTime(decisions: { createdAt: string; tokensUsed: number; admitted: boolean }[]): {
  points: UsagePoint[];
  bucketLabel: string;
} {
  if (decisions.length === 0) return { points: [], bucketLabel: "minute" };
  const times = decisions.map((d) => Math.floor(new Date(d.createdAt).getTime() / 1000));
  const first = Math.min(...times);
  const last = Math.max(...times);
  const bucket = bucketFor(last - first);
  // At least ten buckets, so that a few calls still read as a moment in time, not a span of years.
  const lastBucket = last - (last % bucket.seconds);
  const start = Math.min(first - (first % bucket.seconds), lastBucket - 9 * bucket.seconds);
  const points: UsagePoint[] = [];
  for (let t = start; t <= last; t += bucket.seconds) points.push({ time: t, tokens: 0, admitted: 0, refused: 0 });
  decisions.forEach((d, i) => {
    const point = points[Math.floor(((times[i] as number) - start) / bucket.seconds)] as UsagePoint;
    point.tokens += d.tokensUsed;
    if (d.admitted) point.admitted += 1;
    else point.refused += 1;
  });
  return { points, bucketLabel: bucket.label };
}
