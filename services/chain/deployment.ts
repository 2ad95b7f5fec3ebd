import { readFileSync, writeFileSync } from "node:fs";
import { getAddress } from "ethers";
import { AppError } from "../shared/errors.ts";
import type { ContractRole, Deployment } from "./contracts.ts";

export type { Deployment } from "./contracts.ts";

export function writeDeployment(path: string, deployment: Deployment): void {
  writeFileSync(path, `${JSON.stringify(deployment, null, 2)}\n`);
}

/** Reads and checks a deployment file; addresses come back checksummed. */
export function readDeployment(path: string): Deployment {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new AppError("CONFIG_INVALID", `cannot read deployment file ${path}`, { cause });
  }
  const d = raw as Partial<Deployment>;
  const roles: ContractRole[] = ["token", "timelock", "governor", "registry", "allocator"];
  if (typeof d.chainId !== "number" || typeof d.deployBlock !== "number" || !d.contracts) {
    throw new AppError("CONFIG_INVALID", `deployment file ${path} needs chainId, deployBlock and contracts`);
  }
  const contracts = {} as Record<ContractRole, string>;
  for (const role of roles) {
    const address = d.contracts[role];
    if (typeof address !== "string") {
      throw new AppError("CONFIG_INVALID", `deployment file ${path} has no address for ${role}`);
    }
    contracts[role] = getAddress(address);
  }
  return { chainId: d.chainId, contracts, deployBlock: d.deployBlock, deployedAt: String(d.deployedAt ?? "") };
}
