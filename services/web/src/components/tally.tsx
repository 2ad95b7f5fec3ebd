import { percent, votes, words } from "../format.ts";

export interface TallyView {
  for: string;
  against: string;
  abstain: string;
  quorum: string;
  quorumReached: boolean;
  voteCount: number;
}

export function StateBadge({ state, testId }: { state: string; testId?: string }) {
  return (
    <span class={`state state-${state.toLowerCase()}`} data-testid={testId}>
      {words(state)}
    </span>
  );
}

/** For / Against / Abstain with their shares, and the progress toward quorum (for + abstain count). */
export function Tally({ tally }: { tally: TallyView }) {
  const f = BigInt(tally.for);
  const a = BigInt(tally.against);
  const ab = BigInt(tally.abstain);
  const total = f + a + ab;
  const quorum = BigInt(tally.quorum);
  const towardQuorum = f + ab;
  const rows = [
    ["For", f, "for"],
    ["Against", a, "against"],
    ["Abstain", ab, "abstain"],
  ] as const;
  return (
    <div class="tally">
      <ul class="tally-rows">
        {rows.map(([label, amount, cls]) => (
          <li key={label} class={`tally-${cls}`}>
            <span class="tally-label">{label}</span>
            <span class="bar" aria-hidden="true">
              <span style={{ width: total === 0n ? "0%" : percent(amount, total) }} />
            </span>
            <span class="tally-amount">
              {votes(amount)} ({percent(amount, total)})
            </span>
          </li>
        ))}
      </ul>
      <p class="quorum">
        <label>
          Quorum {tally.quorumReached ? "reached" : "not reached"}: {votes(towardQuorum)} of {votes(quorum)} ·{" "}
          {tally.voteCount} {tally.voteCount === 1 ? "vote" : "votes"}{" "}
          <progress max={100} value={quorum === 0n ? 100 : Math.min(100, Number((towardQuorum * 100n) / quorum))} />
        </label>
      </p>
    </div>
  );
}
