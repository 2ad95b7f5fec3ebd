import { readFileSync, writeFileSync } from "node:fs";
import { getAddress } from "ethers";
import { AppError } from "../shared/errors.ts";
import type { ContractRole } from "./artifacts.ts";

/**
 * Whose governor the system answers to, and what the indexer may assume of it.
 * - `ours`: deployed with the system (CommonsGovernor, timestamp clock, fixed-supply ERC20Votes token);
 *   the indexer follows the token from its first mint and derives quorums from the settings it saw.
 * - `existing`: a DAO's OpenZeppelin-compatible governor, indexed from `deployBlock` only. Its token's
 *   earlier history is unknown, so balances are not indexed and quorums are read from `quorum()`.
 */
export interface GovernanceProfile {
  origin: "ours" | "existing";
  /** The governor's ERC-6372 clock: what proposal snapshots and deadlines count. */
  clock: "timestamp" | "blocknumber";
  token: "ERC20Votes" | "ERC721Votes";
}

export const OUR_GOVERNANCE: GovernanceProfile = { origin: "ours", clock: "timestamp", token: "ERC20Votes" };

/** Where the system lives on one chain; written by `commons deploy` (or the development chain), read by every service. */
export interface Deployment {
  chainId: number;
  contracts: Record<ContractRole, string>;
  /** The first block to index: the deployment's first block, or the block an existing DAO starts from. */
  deployBlock: number;
  deployedAt: string;
  /** Unset: ours (files written before existing DAOs were supported have none). */
  governance?: GovernanceProfile;
}

export function governanceOf(deployment: Deployment): GovernanceProfile {
  return deployment.governance ?? OUR_GOVERNANCE;
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

const roles: ContractRole[] = ["token", "timelock", "governor", "registry", "allocator"];

/** Reads and checks a deployment file; addresses come back checksummed. A file without `governance` is ours. */
export function readDeployment(path: string): Deployment {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new AppError("CONFIG_INVALID", `cannot read deployment file ${path}`, { cause });
  }
  const d = raw as Partial<Deployment>;
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
  return {
    chainId: d.chainId,
    contracts,
    deployBlock: d.deployBlock,
    deployedAt: String(d.deployedAt ?? ""),
    governance: readProfile(path, d.governance),
  };
}

function readProfile(path: string, value: unknown): GovernanceProfile {
  if (value === undefined) return OUR_GOVERNANCE;
  const g = value as Partial<GovernanceProfile>;
  const origins = ["ours", "existing"];
  const clocks = ["timestamp", "blocknumber"];
  const tokens = ["ERC20Votes", "ERC721Votes"];
  if (!origins.includes(String(g.origin)) || !clocks.includes(String(g.clock)) || !tokens.includes(String(g.token))) {
    throw new AppError(
      "CONFIG_INVALID",
      `deployment file ${path}: governance needs origin (${origins.join("|")}), clock (${clocks.join("|")}) and token (${tokens.join("|")})`,
    );
  }
  return { origin: g.origin, clock: g.clock, token: g.token } as GovernanceProfile;
}
