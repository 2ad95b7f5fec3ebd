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
  /** The usage anchor (receipts' Merkle roots, contracts/usage); unset in files written before it existed. */
  usageAnchor?: string;
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

/**
 * The key of a proposal's vote nonces on our governor (GovernorNoncesKeyed): the proposal id's low 192
 * bits. A ballot signed at `nonces(voter, key)` stays valid whatever the voter signs for other proposals.
 */
export function proposalNonceKey(proposalId: bigint): bigint {
  return proposalId & ((1n << 192n) - 1n);
}
