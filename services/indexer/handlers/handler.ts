import type { GovernanceEvent } from "../../chain/events.ts";
import type { RangeState } from "../range-state.ts";

type EventType = GovernanceEvent["type"];

/** How one contract's events change the range's state: one function per event it emits. */
export type Handlers<K extends EventType> = {
  [T in K]: (s: RangeState, e: Extract<GovernanceEvent, { type: T }>) => void | Promise<void>;
};
