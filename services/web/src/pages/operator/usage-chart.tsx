import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { tokens } from "../../format.ts";

export interface UsagePoint {
  /** Start of the bucket, unix seconds. */
  time: number;
  tokens: number;
  admitted: number;
  refused: number;
}

/** Tokens used per time bucket (bars) with refused calls (line); the same figures as a table for screen readers. */
export function UsageChart({ points, bucketLabel }: { points: UsagePoint[]; bucketLabel: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element || points.length === 0) return;
    const bars = uPlot.paths.bars?.({ size: [0.7, 40] });
    const plot = new uPlot(
      {
        width: Math.max(320, element.clientWidth),
        height: 240,
        scales: { x: { time: true }, calls: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        series: [
          {},
          {
            label: "tokens used",
            stroke: "#1d4f91",
            fill: "rgba(29, 79, 145, 0.35)",
            ...(bars ? { paths: bars } : {}),
          },
          { label: "refused calls", stroke: "#a4262c", width: 2, scale: "calls" },
        ],
        axes: [{}, { label: "tokens" }, { side: 1, scale: "calls", label: "refused", grid: { show: false } }],
      },
      [points.map((p) => p.time), points.map((p) => p.tokens), points.map((p) => p.refused)],
      element,
    );
    return () => plot.destroy();
  }, [points]);
  if (points.length === 0) return <p>No calls in this period.</p>;
  return (
    <figure class="chart">
      <div ref={box} aria-hidden="true" data-testid="usage-chart" />
      <figcaption>Tokens used and refused calls per {bucketLabel}.</figcaption>
      <details>
        <summary>The figures as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">From</th>
              <th scope="col">Tokens used</th>
              <th scope="col">Admitted calls</th>
              <th scope="col">Refused calls</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.time}>
                <td>{new Date(p.time * 1000).toLocaleString("en-GB")}</td>
                <td>{tokens(p.tokens)}</td>
                <td>{p.admitted}</td>
                <td>{p.refused}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
