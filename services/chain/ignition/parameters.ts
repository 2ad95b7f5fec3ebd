import type { ArgumentType, DeploymentParameters, IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";
import { getAddress, id, ZeroAddress, ZeroHash } from "ethers";
import type { DeployConfig } from "../deploy.ts";

/**
 * The one place where our deployment settings become the Ignition modules' parameters and constructor
 * arguments (new-dao.ts and existing-dao.ts only wire contracts together). A constructor that changes
 * changes here and in the module that calls it.
 */

export const NEW_DAO_MODULE = "CommonsNewDao";
export const EXISTING_DAO_MODULE = "CommonsExistingDao";

export const TIMELOCK_ROLES = {
  admin: ZeroHash,
  proposer: id("PROPOSER_ROLE"),
  canceller: id("CANCELLER_ROLE"),
  executor: id("EXECUTOR_ROLE"),
} as const;

export function newDaoParameters(config: DeployConfig): DeploymentParameters {
  return {
    [NEW_DAO_MODULE]: {
      holders: config.holders.map((h) => getAddress(h.address)),
      amounts: config.holders.map((h) => h.amount),
      timelockDelay: config.timelockDelay,
      governor: { ...config.governor, proposalGuardian: getAddress(config.governor.proposalGuardian) },
      guardianSuspensionPeriod: config.guardianSuspensionPeriod,
      pool: { ...config.pool },
      poolMinVotes: config.poolMinVotes,
      anchorer: getAddress(config.anchorer ?? ZeroAddress),
    },
  };
}

/**
 * An existing DAO's registry takes its guardian from the DAO's governor only when that governor has one
 * (GovernorProposalGuardian, `guardianSource`); otherwise the guardian brake is off (zero address).
 */
export function existingDaoParameters(
  dao: { timelock: string; token: string; guardianSource: string },
  pool: DeployConfig["pool"],
  poolMinVotes: bigint,
  guardianSuspensionPeriod: number,
): DeploymentParameters {
  return {
    [EXISTING_DAO_MODULE]: {
      timelock: getAddress(dao.timelock),
      token: getAddress(dao.token),
      guardianSource: getAddress(dao.guardianSource),
      pool: { ...pool },
      poolMinVotes,
      guardianSuspensionPeriod,
    },
  };
}

/**
 * The policy registry and the resource allocator, both owned by `timelock` from their constructor, so
 * that no other account ever owns them. Used by both modules.
 */
export function policyContracts(
  m: IgnitionModuleBuilder,
  timelock: ArgumentType,
  token: ArgumentType,
  guardianSource: ArgumentType,
) {
  const registry = m.contract("PolicyRegistry", [timelock, guardianSource, m.getParameter("guardianSuspensionPeriod")]);
  const allocator = m.contract("ResourceAllocator", [
    timelock,
    token,
    m.getParameter("pool"),
    m.getParameter("poolMinVotes"),
  ]);
  return { registry, allocator };
}

/**
 * The usage anchor (receipts' Merkle roots), owned by `timelock` so that only governance replaces its
 * anchorer; `anchorer` is the first one (address(0): none until governance appoints one). Used by both
 * modules.
 */
export function usageContracts(m: IgnitionModuleBuilder, timelock: ArgumentType) {
  return { usageAnchor: m.contract("UsageAnchor", [timelock, m.getParameter("anchorer", ZeroAddress)]) };
}
