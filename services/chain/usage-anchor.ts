import { Contract, type ContractRunner, Interface } from "ethers";
import { AppError } from "../shared/errors.ts";
import { loadArtifactAt } from "./artifacts.ts";
import type { Deployment } from "./deployment.ts";

let usageAnchorInterface: Interface | undefined;

/** The UsageAnchor's ABI (contracts/usage), cached. */
export function usageAnchorAbi(): Interface {
  usageAnchorInterface ??= new Interface(loadArtifactAt("usage/UsageAnchor").abi);
  return usageAnchorInterface;
}

/** The deployment's usage anchor; a deployment without one cannot anchor or verify receipts. */
export function usageAnchorAt(deployment: Deployment, runner: ContractRunner): Contract {
  if (deployment.usageAnchor === undefined) {
    throw new AppError("CONFIG_INVALID", "the deployment has no usage anchor (deployed before receipts existed)");
  }
  return new Contract(deployment.usageAnchor, usageAnchorAbi(), runner);
}

/** What the chain holds for a period (UsageAnchor.anchorOf): anchoredAt 0 means not anchored. */
export interface ChainAnchor {
  root: string;
  count: bigint;
  totalTokens: bigint;
  anchoredAt: bigint;
  uri: string;
}

export async function readAnchor(anchor: Contract, period: bigint | number): Promise<ChainAnchor> {
  const a = await anchor.getFunction("anchorOf")(period);
  return { root: a.root, count: a.count, totalTokens: a.totalTokens, anchoredAt: a.anchoredAt, uri: a.uri };
}
