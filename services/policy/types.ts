import type { ReasonCode } from "../shared/errors.ts";

/** Where a policy or allocation came from on chain. */
export interface Provenance {
  proposalId: string | null;
  txHash: string;
  blockNumber: number;
  blockTime: number;
}

/** A model's rules as the registry holds them, with their version. */
export interface ModelRules {
  modelId: string;
  version: number;
  approved: boolean;
  suspended: boolean;
  suspendReason: string | null;
  /** A guardian's suspension lapses at this Unix second unless a vote confirms it; null: by a vote, or none. */
  suspendedUntil: number | null;
  maxTokensPerRequest: number;
  requestsPerMinute: number;
  /** As voted; empty means any purpose. */
  allowedPurposes: readonly string[];
  /** As voted. */
  blockedTerms: readonly string[];
  guidelineUri: string;
  guidelineHash: string;
}

/** A model's policy in force (its newest version), with the forms matching needs and its origin. */
export interface ModelPolicy extends ModelRules {
  /** Lowercased, for matching a lowercased purpose. */
  allowedPurposeSet: ReadonlySet<string>;
  /** In the form content is matched on (content.ts), once here, so that a decision only scans. */
  blockedTermForms: readonly string[];
  provenance: Provenance;
}

/** A live (not revoked) grant. */
export interface GrantPolicy {
  grantId: string;
  /** The budget account its spending is counted on: `grant:<id>`. */
  account: string;
  grantee: string;
  /** Empty: any approved model. */
  modelId: string;
  tokensPerEpoch: number;
  /** Unix seconds; the grant gives from start until end (exclusive). */
  start: number;
  end: number;
  provenance: Provenance;
}

export interface PoolPolicy {
  allowancePerAddress: number;
  poolSizePerEpoch: number;
  /** Seconds; epochs are [t - t % epochLength, + epochLength). */
  epochLength: number;
  provenance: Provenance | null;
  /**
   * Voting power (token wei) an address needs at the start of the epoch to draw on the pool; 0n: every
   * address may. Measured at the epoch's start so that tokens moved during an epoch count only from the
   * next one: N wallets need N times the minimum, delegated before the epoch began.
   */
  minVotes: bigint;
}

/** A consumer's voting power at the start of an epoch, as the index knows it for sure. */
export interface PoolStanding {
  epochStart: number;
  votes: bigint;
}

/** How current the index is: the indexer refreshes `heartbeatAt` on every successful poll. */
export interface IndexFreshness {
  blockNumber: number;
  headBlock: number;
  /** Unix milliseconds. */
  heartbeatAt: number;
}

export interface SnapshotSettings {
  /** max_tokens applied to a request that names none (never above the model's limit). */
  defaultMaxTokens: number;
  /** Older index heartbeats make every call POLICY_STATE_STALE… */
  maxStalenessMs: number;
  /** …unless the operator chose to admit on the last known policies. */
  allowStale: boolean;
}

/** Everything a decision reads, held in memory by each gateway replica. */
export interface PolicySnapshot {
  models: ReadonlyMap<string, ModelPolicy>;
  /** Live grants by grantee (checksummed), model-scoped ones first, then by grant id. */
  grantsByConsumer: ReadonlyMap<string, readonly GrantPolicy[]>;
  pool: PoolPolicy;
  index: IndexFreshness | null;
  settings: SnapshotSettings;
}

/** One AI call, as the decision sees it. */
export interface DecisionRequest {
  /** The key's owner (checksummed), or null when the key is missing, unknown or revoked. */
  consumer: string | null;
  modelId: string;
  /** Lowercased declared purpose, or null when none was declared. */
  purpose: string | null;
  /** Every text field of the input, as normalizeContent (content.ts) puts it for the content rules. */
  content: string;
  /**
   * Estimated tokens the upstream bills whatever the completion: every input field (messages with all
   * their parts, tools, response format...) and what a prediction may add (gateway/tokens.ts).
   */
  promptTokens: number;
  /** max_tokens of each completion as asked, or null when the request names none. */
  maxTokens: number | null;
  /** Completions asked for (OpenAI's `n`), each up to maxTokens; absent means one. */
  choices?: number;
  /**
   * The consumer's voting power at the current epoch's start, loaded at the edge when the pool has a
   * minimum. Null when not loaded or not yet settled in the index: then the pool is not a source.
   */
  poolStanding: PoolStanding | null;
}

/** What the consumer has spent (used + reserved) in the current epoch, and requests this minute. */
export interface ConsumerUsage {
  /** Requests of this consumer on this model in the current minute. */
  requestsThisMinute: number;
  /** By grant account (`grant:<id>`); absent means nothing spent. */
  grantSpent: ReadonlyMap<string, number>;
  /** This consumer's community allowance spent. */
  poolSpent: number;
  /** The whole pool spent by everyone. */
  poolTotalSpent: number;
}

/** A budget the call may be charged to, with what it has left before this call. */
export type BudgetSource =
  | { kind: "grant"; account: string; grantId: string; limit: number; remaining: number }
  | {
      kind: "pool";
      /** `pool:<address>` */
      account: string;
      limit: number;
      /** The whole pool's size this epoch (a second guard on account `pool`). */
      poolLimit: number;
      remaining: number;
    };

export interface Admitted {
  admitted: true;
  model: ModelPolicy;
  /** max_tokens of each completion to forward: as asked, or the bound applied. */
  maxTokens: number;
  /** The worst case reserved: prompt estimate + maxTokens × choices. */
  reserve: number;
  /** Budgets with room for `reserve`, in the order to try (grants first, then the pool). */
  sources: readonly BudgetSource[];
  /** Everything left across `sources` before this call. */
  remaining: number;
  epochStart: number;
  minuteStart: number;
}

export interface Refused {
  admitted: false;
  reason: ReasonCode;
  message: string;
  /** The model policy behind the refusal, when there is one. */
  model: ModelPolicy | null;
}

export type Decision = Admitted | Refused;
