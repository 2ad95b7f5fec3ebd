import type { ColumnType, Generated, JSONColumnType } from "kysely";

/**
 * uint256 values cross the database boundary as decimal strings (numeric(78)); convert with BigInt()
 * at the edge. Block numbers and timestamps are bigint columns read as JS numbers (safe below 2^53).
 */
export type Uint256 = ColumnType<string, string | bigint, string | bigint>;
export type BlockNumber = ColumnType<number, number | bigint, number | bigint>;

export interface IndexerCheckpointTable {
  id: string;
  chain_id: BlockNumber;
  block_number: BlockNumber;
  block_hash: string;
  block_time: BlockNumber;
  head_block: BlockNumber;
  total_supply: Uint256;
  last_error: string | null;
  last_error_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface ChainBlocksTable {
  number: BlockNumber;
  hash: string;
  parent_hash: string;
  timestamp: BlockNumber;
}

/** `status` is what events say (PENDING, QUEUED, EXECUTED, CANCELED); the clock derives the rest. */
export type StoredProposalStatus = "PENDING" | "QUEUED" | "EXECUTED" | "CANCELED";

export interface ProposalsTable {
  id: Uint256;
  proposer: string;
  description: string;
  description_hash: string;
  targets: JSONColumnType<string[]>;
  values: JSONColumnType<string[]>;
  calldatas: JSONColumnType<string[]>;
  /** The timelock operation id of the proposal's batch (hex). */
  operation_id: string;
  actions: JSONColumnType<Record<string, unknown>[]>;
  kinds: string[];
  vote_start: BlockNumber;
  vote_end: BlockNumber;
  eta: BlockNumber | null;
  status: StoredProposalStatus;
  for_votes: Uint256;
  against_votes: Uint256;
  abstain_votes: Uint256;
  vote_count: Generated<number>;
  quorum: Uint256;
  /** For votes that decide the proposal before its deadline (GovernorSuperQuorum); null: none (migrations/0020). */
  super_quorum: Uint256 | null;
  /** The account whose call canceled the proposal (migrations/0024); null: not canceled, or canceled before 0024. */
  canceled_by: string | null;
  created_block: BlockNumber;
  created_time: BlockNumber;
  created_tx: string;
  created_log_index: number;
  updated_block: BlockNumber;
}

export interface ProposalEventsTable {
  proposal_id: Uint256;
  /** CREATED | QUEUED | EXECUTED | CANCELED | EXTENDED */
  event: string;
  block_number: BlockNumber;
  block_time: BlockNumber;
  tx_hash: string;
  log_index: number;
  /**
   * QUEUED: the eta; EXTENDED: the new deadline (Unix seconds or a block number, as the governor's clock);
   * CANCELED: `by`, the account whose call canceled it (since migrations/0024), and `via: "timelock"` when
   * the timelock's canceller canceled the operation directly.
   */
  data: JSONColumnType<{ eta?: number; deadline?: number; by?: string; via?: string }> | null;
}

export interface VotesTable {
  proposal_id: Uint256;
  voter: string;
  /** 0 against, 1 for, 2 abstain */
  support: number;
  weight: Uint256;
  reason: string;
  block_number: BlockNumber;
  block_time: BlockNumber;
  tx_hash: string;
  log_index: number;
}

export interface AccountsTable {
  address: string;
  balance: Uint256;
  delegate: string | null;
  voting_power: Uint256;
  delegators: number;
  updated_block: BlockNumber;
}

/** An account as it stood at the end of `block_number` (one row per block that changed it). */
export interface AccountHistoryTable {
  address: string;
  block_number: BlockNumber;
  balance: Uint256;
  delegate: string | null;
  voting_power: Uint256;
  delegators: number;
  /** The block's timestamp (null only for rows indexed before migrations/0012). */
  block_time: BlockNumber | null;
}

export interface PolicyVersionsTable {
  model_id: string;
  version: number;
  approved: boolean;
  suspended: boolean;
  suspend_reason: string | null;
  /** A guardian's suspension lapses at this Unix second unless a vote confirms it; null otherwise (migrations/0020). */
  suspended_until: BlockNumber | null;
  /** The guardian who suspended the model without a vote; null for a vote (migrations/0020). */
  suspended_by: string | null;
  max_tokens_per_request: BlockNumber;
  requests_per_minute: BlockNumber;
  allowed_purposes: string[];
  blocked_terms: string[];
  guideline_uri: string;
  guideline_hash: string;
  proposal_id: Uint256 | null;
  block_number: BlockNumber;
  block_time: BlockNumber;
  tx_hash: string;
  log_index: number;
}

export interface GrantsTable {
  grant_id: Uint256;
  grantee: string;
  /** Empty: any approved model. */
  model_id: string;
  tokens_per_epoch: Uint256;
  start_time: BlockNumber;
  end_time: BlockNumber;
  revoked: boolean;
  proposal_id: Uint256 | null;
  block_number: BlockNumber;
  block_time: BlockNumber;
  tx_hash: string;
  revoked_proposal_id: Uint256 | null;
  revoked_block: BlockNumber | null;
  revoked_tx: string | null;
}

export interface CommunityPoolVersionsTable {
  block_number: BlockNumber;
  log_index: number;
  allowance_per_address: Uint256;
  pool_size_per_epoch: Uint256;
  epoch_length: BlockNumber;
  proposal_id: Uint256 | null;
  block_time: BlockNumber;
  tx_hash: string;
}

/** Every value of the pool's minimum voting power (migrations/0012); the newest is in force. */
export interface PoolEligibilityVersionsTable {
  block_number: BlockNumber;
  log_index: number;
  min_votes: Uint256;
  proposal_id: Uint256 | null;
  block_time: BlockNumber;
  tx_hash: string;
}

export interface GovernorSettingsTable {
  setting: string;
  value: Uint256;
  /** The governor's clock value from which it applies (quorum numerator is checkpointed). */
  effective_from: BlockNumber;
  proposal_id: Uint256 | null;
  block_number: BlockNumber;
  log_index: number;
  tx_hash: string;
}

/** A change of the governor's proposal guardian or of the registry's guardian suspension period (migrations/0020). */
export interface GuardianChangesTable {
  block_number: BlockNumber;
  log_index: number;
  /** GUARDIAN: `value` is the new guardian (the zero address: removed); SUSPENSION_PERIOD: seconds. */
  kind: "GUARDIAN" | "SUSPENSION_PERIOD";
  value: string;
  proposal_id: Uint256 | null;
  block_time: BlockNumber;
  tx_hash: string;
}

/** Tables written by the indexer (migrations/0001_index.ts, 0012_pool_eligibility.ts). */
export interface IndexTables {
  indexer_checkpoint: IndexerCheckpointTable;
  chain_blocks: ChainBlocksTable;
  proposals: ProposalsTable;
  proposal_events: ProposalEventsTable;
  votes: VotesTable;
  accounts: AccountsTable;
  account_history: AccountHistoryTable;
  policy_versions: PolicyVersionsTable;
  grants: GrantsTable;
  community_pool_versions: CommunityPoolVersionsTable;
  pool_eligibility_versions: PoolEligibilityVersionsTable;
  governor_settings: GovernorSettingsTable;
  guardian_changes: GuardianChangesTable;
}
