import { Interface } from "ethers";
import type { Deployment } from "../chain/deployment.ts";
import type { GovernanceEvent } from "../chain/events.ts";
import type { BlockHeader, ChainReader } from "../chain/rpc.ts";

// IGovernor's own views: every OpenZeppelin-compatible governor has them.
const governorViews = new Interface([
  "function quorum(uint256 timepoint) view returns (uint256)",
  "function proposalSnapshot(uint256 proposalId) view returns (uint256)",
]);

/**
 * The quorums of the proposals a range creates or votes on, read from an existing governor's
 * `quorum(timepoint)`. Its token's supply and its quorum settings began before the index did, so the
 * quorum cannot be derived from indexed events as ours is. `quorum` answers only for past timepoints:
 * a proposal's exact quorum (at its snapshot) is read once the snapshot has passed, which it always has
 * once the proposal has votes; until then the quorum at the range's last block stands in for it.
 */
export async function readQuorums(
  reader: ChainReader,
  deployment: Deployment,
  events: readonly GovernanceEvent[],
  blocks: Map<number, BlockHeader>,
  to: number,
): Promise<Map<string, bigint>> {
  const governor = deployment.contracts.governor;
  const clock = deployment.governance?.clock === "timestamp" ? (blocks.get(to) as BlockHeader).timestamp : to;
  const snapshots = new Map<string, number | undefined>();
  for (const e of events) {
    if (e.type === "ProposalCreated") snapshots.set(e.proposalId.toString(), e.voteStart);
    else if (e.type === "VoteCast" && !snapshots.has(e.proposalId.toString())) {
      snapshots.set(e.proposalId.toString(), undefined);
    }
  }
  const quorums = new Map<string, bigint>();
  await Promise.all(
    [...snapshots].map(async ([id, known]) => {
      const snapshot =
        known ??
        Number(
          governorViews.decodeFunctionResult(
            "proposalSnapshot",
            await reader.call(governor, governorViews.encodeFunctionData("proposalSnapshot", [id]), to),
          )[0],
        );
      const timepoint = snapshot < clock ? snapshot : clock - 1;
      const answer = await reader.call(governor, governorViews.encodeFunctionData("quorum", [timepoint]), to);
      quorums.set(id, BigInt(governorViews.decodeFunctionResult("quorum", answer)[0]));
    }),
  );
  return quorums;
}
