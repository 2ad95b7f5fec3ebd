import abis from "virtual:commons-abis";
import { Interface, type InterfaceAbi } from "ethers";
import type { ContractRole } from "../../chain/contracts.ts";

/**
 * The browser's `#contract-interfaces` (see package.json "imports"): the same ABIs the service reads from
 * the compiled artifacts, bundled at build time (services/web/build.ts).
 */
const interfaces = new Map<ContractRole, Interface>();

export function contractInterface(role: ContractRole): Interface {
  let iface = interfaces.get(role);
  if (!iface) {
    iface = new Interface(abis[role] as InterfaceAbi);
    interfaces.set(role, iface);
  }
  return iface;
}
