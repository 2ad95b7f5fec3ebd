import { readFileSync, writeFileSync } from "node:fs";
import { getAddress } from "ethers";
import { AppError } from "../shared/errors.ts";
import type { ContractRole } from "./artifacts.ts";

/** Where the system lives on one chain; written by `deploySystem`, read by every service. */
export interface Deployment {
  chainId: number;
  contracts: Record<ContractRole, string>;
  /** The first block to index: the block that deployed the token. */
  deployBlock: number;
  deployedAt: string;
}

/**
 * The deployment as GET /deployment publishes it to clients (CLI, demo, web app): where to reach the
 * chain, and the deploy block's hash, which tells one development chain from another (they all have
 * chain id 31337 and the same contract addresses).
 */
export interface PublishedDeployment extends Deployment {
  /** The JSON-RPC URL clients should use (PUBLIC_RPC_URL, or the development chain's); null when unpublished. */
  rpcUrl: string | null;
  /** Hash of block `deployBlock` on the chain the service indexes; null when the chain cannot be asked. */
  deployBlockHash: string | null;
}

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
