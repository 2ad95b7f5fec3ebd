/**
 * The contracts of the system by role, and where a deployment put them. Types and names only (no I/O),
 * so the web app shares them with the service.
 */
export const contractNames = {
  token: "governance/CommonsToken",
  timelock: "governance/CommonsTimelock",
  governor: "governance/CommonsGovernor",
  registry: "policy/PolicyRegistry",
  allocator: "policy/ResourceAllocator",
} as const;

export type ContractRole = keyof typeof contractNames;

/** Where the system lives on one chain; written by `deploySystem`, read by every service. */
export interface Deployment {
  chainId: number;
  contracts: Record<ContractRole, string>;
  /** The first block to index: the block that deployed the token. */
  deployBlock: number;
  deployedAt: string;
}
