import { Contract, getAddress, id, type Provider, ZeroAddress } from "ethers";
import type { DeployConfig } from "./deploy.ts";
import { type Deployment, governanceOf } from "./deployment.ts";
import { TIMELOCK_ROLES } from "./ignition/parameters.ts";

/** One statement about a deployment, checked against the chain. */
export interface DeploymentCheck {
  name: string;
  ok: boolean;
  /** What was found (always said, so a failed check tells what to fix). */
  found: string;
}

const abi = [
  "function owner() view returns (address)",
  "function hasRole(bytes32, address) view returns (bool)",
  "function timelock() view returns (address)",
  "function token() view returns (address)",
  "function totalSupply() view returns (uint256)",
  "function balanceOf(address) view returns (uint256)",
];

/**
 * Checks that nothing is left half-owned: the timelock owns the registry and the allocator, the governor
 * is the one that schedules on that timelock, and the deployer holds no role anywhere. For a new DAO
 * also: anyone may execute, the governor may cancel, and the token's supply is the distribution given.
 */
export async function verifyDeployment(
  provider: Provider,
  deployment: Deployment,
  deployer: string,
  newDao?: DeployConfig,
): Promise<DeploymentCheck[]> {
  const at = (address: string) => new Contract(address, abi, provider);
  const { timelock, governor, registry, allocator, token } = deployment.contracts;
  const read = async <T>(address: string, name: string, args: unknown[] = []): Promise<T | undefined> => {
    try {
      return (await at(address)
        .getFunction(name)
        .staticCall(...args)) as T;
    } catch {
      return undefined;
    }
  };
  const same = (a: string | undefined, b: string) => a !== undefined && getAddress(a) === getAddress(b);
  const checks: DeploymentCheck[] = [];
  const check = (name: string, ok: boolean, found: string) => checks.push({ name, ok, found });

  for (const [role, address] of [
    ["registry", registry],
    ["allocator", allocator],
  ] as const) {
    const owner = await read<string>(address, "owner");
    check(`the timelock owns the ${role}`, same(owner, timelock), `owner ${owner ?? "unreadable"}`);
  }
  const governorTimelock = await read<string>(governor, "timelock");
  check("the governor executes through the timelock", same(governorTimelock, timelock), `${governorTimelock}`);
  const governorToken = await read<string>(governor, "token");
  check("the governor votes with the token", same(governorToken, token), `${governorToken}`);
  const hasRole = async (role: string, who: string, on = timelock) =>
    (await read<boolean>(on, "hasRole", [role, who])) === true;
  const canPropose = await hasRole(TIMELOCK_ROLES.proposer, governor);
  check("the governor may schedule on the timelock (PROPOSER_ROLE)", canPropose, String(canPropose));
  const deployerRoles = [];
  for (const [name, role] of Object.entries(TIMELOCK_ROLES)) {
    if (await hasRole(role, deployer)) deployerRoles.push(name);
  }
  check(
    "the deployer holds no timelock role (admin renounced)",
    deployerRoles.length === 0,
    deployerRoles.length === 0 ? "none" : deployerRoles.join(", "),
  );

  if (governanceOf(deployment).origin === "ours") {
    const canCancel = await hasRole(TIMELOCK_ROLES.canceller, governor);
    check("the governor may cancel on the timelock (CANCELLER_ROLE)", canCancel, String(canCancel));
    const openExecution = await hasRole(TIMELOCK_ROLES.executor, ZeroAddress);
    check("anyone may execute what passed (EXECUTOR_ROLE of address 0)", openExecution, String(openExecution));
    const tokenOwner = await read<string>(token, "owner");
    const minter = await hasRole(id("MINTER_ROLE"), deployer, token);
    check(
      "the deployer neither owns nor mints the token",
      !same(tokenOwner, deployer) && !minter,
      `owner ${tokenOwner ?? "none"}, minter ${minter}`,
    );
  }
  if (newDao) {
    const expected = newDao.holders.reduce((sum, h) => sum + h.amount, 0n);
    const supply = await read<bigint>(token, "totalSupply");
    check("the token's supply is the initial distribution", supply === expected, `${supply} (expected ${expected})`);
    const wrong = [];
    for (const h of newDao.holders) {
      const balance = await read<bigint>(token, "balanceOf", [h.address]);
      if (balance !== h.amount) wrong.push(`${h.address} holds ${balance}`);
    }
    check("every holder got its amount", wrong.length === 0, wrong.length === 0 ? "yes" : wrong.join("; "));
  }
  return checks;
}
