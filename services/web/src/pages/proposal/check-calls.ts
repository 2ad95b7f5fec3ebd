import { getAddress } from "ethers";
import { type Action, decodeCall, encodeAction } from "../../../../chain/actions.ts";
import type { Deployment } from "../../../../chain/contracts.ts";

export interface CheckedCall {
  target: string;
  value: string;
  calldata: string;
  /** What the browser reads in the calldata, with the service's own rules (services/chain/actions.ts). */
  action: Action;
  /** Re-encoding `action` gives exactly this call: the words shown are what will run. */
  exact: boolean;
}

/**
 * Reads each raw call of a proposal here, in the browser, instead of trusting the service's decoding,
 * and re-encodes what it read: only a byte-for-byte match earns a check mark. A call that carries
 * extra bytes, sends ETH or targets another contract does not match, and the page says so.
 */
export function checkCalls(
  contracts: Deployment["contracts"],
  proposal: { targets: string[]; values: string[]; calldatas: string[] },
): CheckedCall[] {
  return proposal.targets.map((target, i) => {
    const calldata = proposal.calldatas[i] ?? "0x";
    const value = proposal.values[i] ?? "0";
    const action = decodeCall(contracts, target, calldata);
    let exact = false;
    if (action.kind !== "UNKNOWN" && BigInt(value) === 0n) {
      try {
        const encoded = encodeAction(contracts, action);
        exact = encoded.target === getAddress(target) && encoded.calldata.toLowerCase() === calldata.toLowerCase();
      } catch {
        exact = false;
      }
    }
    return { target, value, calldata, action, exact };
  });
}

/** Which of our contracts an address is, for people. */
export function contractName(contracts: Deployment["contracts"], address: string): string {
  const names: Record<string, string> = {
    registry: "policy registry",
    allocator: "resource allocator",
    governor: "governor",
    token: "governance token",
    timelock: "timelock",
  };
  const role = Object.entries(contracts).find(([, a]) => a.toLowerCase() === address.toLowerCase())?.[0];
  return role ? (names[role] ?? role) : "an unknown contract";
}
