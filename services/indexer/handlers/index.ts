import type { GovernanceEvent } from "../../chain/events.ts";
import type { RangeState } from "../range-state.ts";
import { allocator } from "./allocator.ts";
import { governor } from "./governor.ts";
import type { Handlers } from "./handler.ts";
import { registry } from "./registry.ts";
import { timelock } from "./timelock.ts";
import { token } from "./token.ts";

/** Every event type the index reads, handled by the module of the contract that emits it (exactly one). */
const handlers: Handlers<GovernanceEvent["type"]> = {
  ...token,
  ...governor,
  ...timelock,
  ...registry,
  ...allocator,
};

/** Applies one event to the range's state. */
export function handle(s: RangeState, e: GovernanceEvent): void | Promise<void> {
  return (handlers[e.type] as (s: RangeState, e: GovernanceEvent) => void | Promise<void>)(s, e);
}
