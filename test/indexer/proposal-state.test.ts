import t from "tap";
import { deriveProposalState, type ProposalFacts } from "../../services/chain/proposal-state.ts";

const base: ProposalFacts = {
  status: "PENDING",
  voteStart: 100,
  voteEnd: 200,
  forVotes: 0n,
  againstVotes: 0n,
  abstainVotes: 0n,
  quorum: 10n,
  superQuorum: null,
  eta: null,
};

t.test("states follow the clock as the governor's state() does", async (t) => {
  t.equal(deriveProposalState(base, 100), "PENDING", "until the snapshot has passed");
  t.equal(deriveProposalState(base, 101), "ACTIVE");
  t.equal(deriveProposalState(base, 200), "ACTIVE", "through the deadline itself");
  t.equal(deriveProposalState(base, 201), "DEFEATED", "no quorum");
  t.equal(deriveProposalState({ ...base, forVotes: 16n, againstVotes: 5n }, 201), "SUCCEEDED");
  t.equal(deriveProposalState({ ...base, forVotes: 15n, againstVotes: 15n }, 201), "DEFEATED", "a tie fails");
  t.equal(deriveProposalState({ ...base, forVotes: 9n }, 201), "DEFEATED", "for alone below quorum");
  t.equal(
    deriveProposalState({ ...base, forVotes: 1n, abstainVotes: 9n }, 201),
    "SUCCEEDED",
    "abstentions count toward quorum",
  );
  t.equal(deriveProposalState({ ...base, forVotes: 10n, status: "QUEUED", eta: 300 }, 500), "QUEUED");
  t.equal(deriveProposalState({ ...base, status: "EXECUTED" }, 50), "EXECUTED");
  t.equal(deriveProposalState({ ...base, status: "CANCELED" }, 150), "CANCELED");
});

t.test("a super quorum of For votes decides an active proposal before its deadline", async (t) => {
  const fast = { ...base, superQuorum: 50n };
  t.equal(deriveProposalState({ ...fast, forVotes: 49n }, 150), "ACTIVE", "below the super quorum");
  t.equal(deriveProposalState({ ...fast, forVotes: 50n }, 150), "SUCCEEDED", "reached, before the deadline");
  t.equal(deriveProposalState({ ...fast, forVotes: 50n, againstVotes: 60n }, 150), "ACTIVE", "For must win");
  t.equal(deriveProposalState({ ...fast, forVotes: 50n, status: "QUEUED", eta: 300 }, 150), "QUEUED");
  t.equal(deriveProposalState({ ...base, forVotes: 1_000n }, 150), "ACTIVE", "no super quorum: the period runs");
});
