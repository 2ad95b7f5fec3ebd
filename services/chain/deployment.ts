import { readFileSync, writeFileSync } from "node:fs";
import { getAddress } from "ethers";
import { AppError } from "../shared/errors.ts";
import { type ContractRole, type Deployment, type GovernanceProfile, OUR_GOVERNANCE } from "./contracts.ts";

// The types live with the contracts' names (no I/O, shared with the web app); reading and writing files here.
export {
  type Deployment,
  type GovernanceProfile,
  governanceOf,
  OUR_GOVERNANCE,
  type PublishedDeployment,
} from "./contracts.ts";

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
    ...(typeof d.usageAnchor === "string" ? { usageAnchor: getAddress(d.usageAnchor) } : {}),
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
