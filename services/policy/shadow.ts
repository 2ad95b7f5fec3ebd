import type { Action } from "../chain/actions.ts";
import type { ShadowDecisions } from "../db/gateway-tables.ts";
import { type GovernanceState, stateAfter } from "./after-actions.ts";
import type { Decision, PolicySnapshot } from "./types.ts";

/**
 * Shadow mode: while proposals are queued in the timelock, each call is decided under the policies in
 * force (enforced) and under the policies each queued proposal will bring (recorded beside the live
 * decision, never enforced). Pure: the gateway's policy store builds the shadows when the index changes,
 * the enforcer asks for the shadow decisions of each call.
 */

/**
 * Proposals shadowed at once, those queued to execute first. A bound, so that a flood of queued proposals
 * cannot cost the gateway more than this many extra decisions a call (each is a few microseconds).
 */
export const MAX_SHADOWED_PROPOSALS = 8;

/** A queued proposal, its actions read from its calldata. */
export interface QueuedProposal {
  proposalId: string;
  /** When the timelock lets it execute (unix seconds); null if the index has not seen it. */
  eta: number | null;
  actions: readonly Action[];
}

/** The policies one queued proposal will put in force. */
export interface Shadow {
  proposalId: string;
  policies: PolicySnapshot;
}

/**
 * The policies after each queued proposal, each applied alone to the policies in force (as proposalImpact
 * does: which one executes first is not known while both are queued), for at most MAX_SHADOWED_PROPOSALS,
 * the earliest eta first. Actions the contracts would refuse are skipped, as proposalImpact's state after
 * skips them (such a proposal reverts whole on execution: its diff says so).
 */
export function shadowsOf(state: GovernanceState, queued: readonly QueuedProposal[]): Shadow[] {
  return [...queued]
    .sort((a, b) => (a.eta ?? Number.MAX_SAFE_INTEGER) - (b.eta ?? Number.MAX_SAFE_INTEGER))
    .slice(0, MAX_SHADOWED_PROPOSALS)
    .map((p) => ({
      proposalId: p.proposalId,
      policies: stateAfter(state, p.actions, { proposalId: p.proposalId, txHash: "", blockNumber: 0, blockTime: 0 })
        .state.policies,
    }));
}

/**
 * Decides one call under every shadow with `decideUnder` (the enforcer's own decide, with the call's
 * request, usage and clock). A shadow whose evaluation throws is recorded as failed (`o` null) and
 * reported to `onFailure`; it never reaches the live decision. Null when nothing is shadowed.
 */
export function shadowDecisions(
  shadows: readonly Shadow[],
  decideUnder: (policies: PolicySnapshot) => Decision,
  onFailure: (error: unknown, proposalId: string) => void,
): ShadowDecisions | null {
  if (shadows.length === 0) return null;
  const decisions: ShadowDecisions = {};
  for (let i = 0; i < shadows.length; i++) {
    const shadow = shadows[i] as Shadow;
    try {
      const d = decideUnder(shadow.policies);
      decisions[shadow.proposalId] = d.admitted ? { o: "ADMITTED", t: d.reserve } : { o: d.reason };
    } catch (error) {
      decisions[shadow.proposalId] = { o: null };
      onFailure(error, shadow.proposalId);
    }
  }
  return decisions;
}
