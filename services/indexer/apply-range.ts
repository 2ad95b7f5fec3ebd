import type { Transaction } from "kysely";
import type { Deployment } from "../chain/deployment.ts";
import type { Database } from "../db/schema.ts";
import { handle } from "./handlers/index.ts";
import type { GovernanceNotification } from "./notifications.ts";
import { createRangeState, type RangeInput } from "./range-state.ts";
import { flushRange } from "./range-writer.ts";

export type { RangeInput } from "./range-state.ts";
export { needsTransaction } from "./range-state.ts";
export { KEPT_BLOCKS } from "./range-writer.ts";

export interface RangeEffects {
  totalSupply: bigint;
  policyChanged: boolean;
  governance: GovernanceNotification[];
}

/**
 * Applies one range's events to the index inside `trx`: the rows the range touches are read once, each
 * event is handled by its contract's module (handlers/), and the writer flushes the result. Every row
 * written depends only on the events (never on where range boundaries fall), so any split of the chain
 * into ranges gives the same rows.
 */
export async function applyRange(
  trx: Transaction<Database>,
  deployment: Deployment,
  input: RangeInput,
): Promise<RangeEffects> {
  const s = await createRangeState(trx, deployment, input);
  for (const e of input.events) {
    // Only a suspension reads the index (the rules it suspends): no await, and no microtask, per vote.
    const pending = handle(s, e);
    if (pending) await pending;
  }
  await flushRange(s);
  const { rows } = s;
  const proposalNotes: GovernanceNotification[] = [...s.created, ...s.dirty].map((proposalId) => ({
    type: "proposal",
    proposalId,
  }));
  return {
    totalSupply: s.totalSupply,
    policyChanged:
      rows.policies.length + rows.grants.size + rows.revocations.length + rows.pools.length + rows.eligibility.length >
      0,
    governance: [...proposalNotes, ...s.voteNotes],
  };
}
