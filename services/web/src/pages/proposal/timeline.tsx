import { dateTime, shortAddress, votes as voteAmount, words } from "../../format.ts";

interface Moment {
  time: number;
  what: string;
  key: string;
}

export interface TimelineInput {
  voteStart: number;
  voteEnd: number;
  eta: number | null;
  history: { event: string; blockTime: number; blockNumber: number }[];
  votes: { voter: string; support: string; weight: string; blockTime: number }[];
}

const eventWords: Record<string, string> = {
  CREATED: "Proposed",
  QUEUED: "Queued in the timelock",
  EXECUTED: "Executed",
  CANCELED: "Canceled",
  EXTENDED: "Voting extended (late quorum)",
};

/** Created, voting opens, each vote, voting closes, queued, executed: in the order they happened. */
export function Timeline({ proposal, now }: { proposal: TimelineInput; now: number }) {
  const moments: Moment[] = [
    ...proposal.history.map((h) => ({
      time: h.blockTime,
      what: `${eventWords[h.event] ?? words(h.event)} (block ${h.blockNumber})`,
      key: `${h.event}-${h.blockNumber}`,
    })),
    { time: proposal.voteStart, what: proposal.voteStart <= now ? "Voting opened" : "Voting opens", key: "start" },
    { time: proposal.voteEnd, what: proposal.voteEnd <= now ? "Voting closed" : "Voting closes", key: "end" },
    ...proposal.votes.map((v) => ({
      time: v.blockTime,
      what: `${shortAddress(v.voter)} voted ${words(v.support)} with ${voteAmount(v.weight)}`,
      key: `vote-${v.voter}`,
    })),
    ...(proposal.eta !== null && !proposal.history.some((h) => h.event === "EXECUTED")
      ? [{ time: proposal.eta, what: "Executable from", key: "eta" }]
      : []),
  ].sort((a, b) => a.time - b.time);
  return (
    <ol class="timeline">
      {moments.map((m) => (
        <li key={m.key} class={m.time > now ? "future" : ""}>
          <time dateTime={new Date(m.time * 1000).toISOString()}>{dateTime(m.time)}</time> {m.what}
        </li>
      ))}
    </ol>
  );
}
