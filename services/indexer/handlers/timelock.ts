import { cancellerOf, proposalEvent } from "../range-state.ts";
import type { Handlers } from "./handler.ts";

/**
 * The timelock: an operation executed or canceled on it directly (no governor event in the same
 * transaction) still executes or cancels the proposal it belongs to.
 */
export const timelock: Handlers<"TimelockCallExecuted" | "TimelockCancelled"> = {
  TimelockCallExecuted(s, e) {
    const p = s.byOperation.get(e.operationId);
    if (!p || s.executedInTx.get(e.txHash) === p.id || p.status === "EXECUTED") return;
    s.executedInTx.set(e.txHash, p.id);
    proposalEvent(s, p, e, { event: "EXECUTED" }, { via: "timelock" });
  },
  TimelockCancelled(s, e) {
    const p = s.byOperation.get(e.operationId);
    if (!p || s.canceledInTx.has(`${e.txHash}:${p.id}`) || p.status === "CANCELED") return;
    const by = cancellerOf(s, e);
    proposalEvent(s, p, e, { event: "CANCELED", by }, { via: "timelock", by });
  },
};
