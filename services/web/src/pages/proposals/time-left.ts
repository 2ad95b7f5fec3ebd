import { relative as relativeTo } from "../../format.ts";

/** The next moment that matters for a proposal in this state, in words. */
export function timeLeft(
  p: { state: string; voteStart: number; voteEnd: number; eta: number | null },
  now: number,
): string {
  const relative = (time: number) => relativeTo(time, now * 1000);
  switch (p.state) {
    case "PENDING":
      return `voting opens ${relative(p.voteStart)}`;
    case "ACTIVE":
      return `voting ends ${relative(p.voteEnd)}`;
    case "QUEUED":
      return p.eta !== null ? `executable ${relative(p.eta)}` : "queued";
    case "SUCCEEDED":
      return `voting ended ${relative(p.voteEnd)}: ready to queue`;
    default:
      return `voting ended ${relative(p.voteEnd)}`;
  }
}
