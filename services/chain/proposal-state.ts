/** Governor proposal states, as OpenZeppelin's IGovernor.ProposalState names them. */
export type ProposalState =
  | "PENDING"
  | "ACTIVE"
  | "CANCELED"
  | "DEFEATED"
  | "SUCCEEDED"
  | "QUEUED"
  | "EXPIRED"
  | "EXECUTED";

/** What the index stores about a proposal; the states without an event follow from these and the clock. */
export interface ProposalFacts {
  /** The stored status: what events said (PENDING until queued, executed or canceled). */
  status: string;
  /** Snapshot, on the governor's clock (seconds; blocks for an existing DAO's block-number clock). */
  voteStart: number;
  /** Deadline including any late-quorum extension, on the same clock. */
  voteEnd: number;
  forVotes: bigint;
  againstVotes: bigint;
  abstainVotes: bigint;
  quorum: bigint;
  /** For votes that make the proposal succeed before its deadline (GovernorSuperQuorum); null: none. */
  superQuorum: bigint | null;
  eta: number | null;
}

/**
 * The state the governor's `state()` returns at clock value `now` (of the block being judged),
 * following Governor + GovernorCountingSimple + GovernorTimelockControl: quorum counts for + abstain,
 * a vote succeeds iff for > against, and a queued proposal stays QUEUED until executed or canceled
 * (OpenZeppelin 5 never expires a timelocked proposal). With GovernorSuperQuorum, an active proposal whose
 * For votes reach the super quorum and outnumber Against is SUCCEEDED (QUEUED once queued) before its
 * deadline.
 */
export function deriveProposalState(p: ProposalFacts, now: number): ProposalState {
  if (p.status === "EXECUTED") return "EXECUTED";
  if (p.status === "CANCELED") return "CANCELED";
  if (p.voteStart >= now) return "PENDING";
  if (p.voteEnd >= now) {
    const early = p.superQuorum !== null && p.forVotes >= p.superQuorum && p.forVotes > p.againstVotes;
    if (!early) return "ACTIVE";
    return p.status === "QUEUED" ? "QUEUED" : "SUCCEEDED";
  }
  const quorumReached = p.quorum <= p.forVotes + p.abstainVotes;
  const voteSucceeded = p.forVotes > p.againstVotes;
  if (!quorumReached || !voteSucceeded) return "DEFEATED";
  if (p.status === "QUEUED") return "QUEUED";
  return "SUCCEEDED";
}
