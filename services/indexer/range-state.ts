import { getAddress } from "ethers";
import type { Insertable, Transaction } from "kysely";
import type { PolicyRules } from "../chain/actions.ts";
import { type Deployment, governanceOf } from "../chain/deployment.ts";
import type { GovernanceEvent } from "../chain/events.ts";
import type { BlockHeader, TransactionParties } from "../chain/rpc.ts";
import type { Database } from "../db/schema.ts";
import { AppError } from "../shared/errors.ts";
import type { GovernanceNotification } from "./notifications.ts";
import { foldProposal, type ProposalRow, type ProposalTransition } from "./proposal-fold.ts";

export type { ProposalRow } from "./proposal-fold.ts";

export type Row<T extends keyof Database> = Insertable<Database[T]>;

/** An account as the range changes it; amounts as bigints while in memory. */
export interface AccountState {
  address: string;
  balance: bigint;
  delegate: string | null;
  votingPower: bigint;
  delegators: number;
  updatedBlock: number;
}

export interface RangeInput {
  checkpointId: string;
  chainId: number;
  from: number;
  to: number;
  head: number;
  events: GovernanceEvent[];
  /** Headers of `from`, `to`, every block with an event, and the block before the first range. */
  blocks: Map<number, BlockHeader>;
  /** Sender and recipient of every transaction with an event that `needsTransaction` names. */
  transactions: Map<string, TransactionParties>;
  totalSupply: bigint;
  /** Quorums read from an existing governor (see existing-governor.ts); ours are derived instead. */
  quorums?: Map<string, bigint>;
}

/** Events whose transaction must be read: a cancellation does not name who canceled. */
export function needsTransaction(e: GovernanceEvent): boolean {
  return e.type === "ProposalCanceled" || e.type === "TimelockCancelled";
}

/**
 * What one range changes, in memory: the rows it touches (read once, up front) and the rows it adds.
 * The handlers (handlers/, one per contract) act on it; the writer (range-writer.ts) flushes it.
 */
export interface RangeState {
  trx: Transaction<Database>;
  deployment: Deployment;
  input: RangeInput;
  /** An existing DAO's index starts late: events of proposals created before it are skipped. */
  existingDao: boolean;
  proposals: Map<string, ProposalRow>;
  byOperation: Map<string, ProposalRow>;
  accounts: Map<string, AccountState>;
  /** The proposal each transaction executed (ProposalExecuted comes last in it, hence read up front). */
  executedInTx: Map<string, string>;
  /** `${txHash}:${proposalId}` of each governor cancellation, so the timelock's twin event is not a second one. */
  canceledInTx: Set<string>;
  created: Set<string>;
  dirty: Set<string>;
  dirtyAccounts: Set<string>;
  totalSupply: bigint;
  /** The earliest time a quorum numerator changed in this range: quorums from then on are recomputed. */
  quorumFrom: number | undefined;
  rows: {
    votes: Row<"votes">[];
    proposalEvents: Row<"proposal_events">[];
    policies: Row<"policy_versions">[];
    grants: Map<string, Row<"grants">>;
    revocations: { grantId: string; proposalId: string | null; block: number; tx: string }[];
    pools: Row<"community_pool_versions">[];
    eligibility: Row<"pool_eligibility_versions">[];
    settings: Row<"governor_settings">[];
    guardian: Row<"guardian_changes">[];
    history: Map<string, Row<"account_history">>;
  };
  voteNotes: GovernanceNotification[];
}

export async function createRangeState(
  trx: Transaction<Database>,
  deployment: Deployment,
  input: RangeInput,
): Promise<RangeState> {
  const { proposals, accounts } = await loadTouched(trx, input.events);
  const executedInTx = new Map<string, string>();
  const canceledInTx = new Set<string>();
  for (const e of input.events) {
    if (e.type === "ProposalExecuted") executedInTx.set(e.txHash, e.proposalId.toString());
    if (e.type === "ProposalCanceled") canceledInTx.add(`${e.txHash}:${e.proposalId}`);
  }
  return {
    trx,
    deployment,
    input,
    existingDao: governanceOf(deployment).origin === "existing",
    proposals,
    byOperation: new Map([...proposals.values()].map((p) => [p.operation_id, p])),
    accounts,
    executedInTx,
    canceledInTx,
    created: new Set(),
    dirty: new Set(),
    dirtyAccounts: new Set(),
    totalSupply: input.totalSupply,
    quorumFrom: undefined,
    rows: {
      votes: [],
      proposalEvents: [],
      policies: [],
      grants: new Map(),
      revocations: [],
      pools: [],
      eligibility: [],
      settings: [],
      guardian: [],
      history: new Map(),
    },
    voteNotes: [],
  };
}

/** The block's time (every block with an event has its header in the range). */
export const timeOf = (s: RangeState, block: number) => (s.input.blocks.get(block) as BlockHeader).timestamp;

/** The proposal whose execution wrote this event's row, if a proposal's execution did. */
export const enactedBy = (s: RangeState, e: GovernanceEvent) => s.executedInTx.get(e.txHash) ?? null;

/**
 * The indexed proposal an event is about. Our governor's index starts with the governor, so an unknown
 * proposal is a gap in the index. An existing DAO's index starts at a block of the operator's choice:
 * a proposal created before it is not indexed, and its later events are skipped.
 */
export function knownProposal(s: RangeState, id: bigint): ProposalRow | undefined {
  const p = s.proposals.get(id.toString());
  if (!p && !s.existingDao) {
    throw new AppError("INTERNAL", `proposal ${id} has events but was never created in the index`);
  }
  return p;
}

/** Folds a transition into a proposal and marks it for writing. */
export function transition(s: RangeState, p: ProposalRow, t: ProposalTransition, block: number): void {
  foldProposal(p, t, block);
  if (!s.created.has(p.id)) s.dirty.add(p.id);
}

/**
 * A transition the chain recorded for a proposal (all but votes): folded into it, and kept as a
 * proposal_events row whose `data` the API and a rollback read.
 */
export function proposalEvent(
  s: RangeState,
  p: ProposalRow,
  e: GovernanceEvent,
  t: Exclude<ProposalTransition, { event: "VOTE" }>,
  data: Record<string, unknown> | null,
): void {
  transition(s, p, t, e.blockNumber);
  recordProposalEvent(s, p, e, t.event, data);
}

/** Keeps a proposal's transition (or its creation) as a proposal_events row. */
export function recordProposalEvent(
  s: RangeState,
  p: ProposalRow,
  e: GovernanceEvent,
  event: string,
  data: Record<string, unknown> | null,
): void {
  s.rows.proposalEvents.push({
    proposal_id: p.id,
    event,
    block_number: e.blockNumber,
    block_time: timeOf(s, e.blockNumber),
    tx_hash: e.txHash,
    log_index: e.logIndex,
    data: data === null ? null : JSON.stringify(data),
  });
}

/**
 * The account whose call canceled: a transaction sent to the governor or the timelock was called by its
 * sender (the proposer, the guardian, the timelock's canceller); one sent to another contract (a multisig
 * wallet) reached ours through it, and that contract is the caller they saw. Deeper chains of calls would
 * need a trace, which not every node serves.
 */
export function cancellerOf(s: RangeState, e: GovernanceEvent): string {
  const tx = s.input.transactions.get(e.txHash);
  if (!tx) throw new AppError("INTERNAL", `the canceling transaction ${e.txHash} was not read`);
  const { governor, timelock } = s.deployment.contracts;
  const ours = tx.to === null || tx.to === getAddress(governor) || tx.to === getAddress(timelock);
  return ours ? tx.from : (tx.to as string);
}

export function accountOf(s: RangeState, address: string, block: number): AccountState {
  let a = s.accounts.get(address);
  if (!a) {
    a = { address, balance: 0n, delegate: null, votingPower: 0n, delegators: 0, updatedBlock: block };
    s.accounts.set(address, a);
  }
  return a;
}

/** Marks an account changed at `block`, and keeps its state then in account_history. */
export function accountChanged(s: RangeState, a: AccountState, block: number): void {
  a.updatedBlock = block;
  s.dirtyAccounts.add(a.address);
  s.rows.history.set(`${a.address}:${block}`, {
    address: a.address,
    block_number: block,
    balance: a.balance.toString(),
    delegate: a.delegate,
    voting_power: a.votingPower.toString(),
    delegators: a.delegators,
    block_time: timeOf(s, block),
  });
}

/** A model's rules at `version`: written earlier in this range, or already in the index. */
export async function rulesAt(
  s: RangeState,
  modelId: string,
  version: number,
): Promise<PolicyRules & { approved: boolean }> {
  const inRange = s.rows.policies.findLast((r) => r.model_id === modelId && r.version === version);
  const row =
    inRange ??
    (await s.trx
      .selectFrom("policy_versions")
      .selectAll()
      .where("model_id", "=", modelId)
      .where("version", "=", version)
      .executeTakeFirst());
  if (!row) throw new AppError("INTERNAL", `policy ${modelId} v${version} is missing from the index`);
  return {
    approved: row.approved,
    maxTokensPerRequest: Number(row.max_tokens_per_request),
    requestsPerMinute: Number(row.requests_per_minute),
    allowedPurposes: [...row.allowed_purposes],
    blockedTerms: [...row.blocked_terms],
    guidelineUri: row.guideline_uri,
    guidelineHash: row.guideline_hash,
  };
}

/**
 * The rows a range will touch, read in a few queries before the range's events are applied, so that
 * applying ten thousand votes is ten thousand map lookups rather than ten thousand queries.
 */
async function loadTouched(trx: Transaction<Database>, events: GovernanceEvent[]) {
  const proposalIds = new Set<string>();
  const operationIds = new Set<string>();
  const addresses = new Set<string>();
  for (const e of events) {
    if ("proposalId" in e) proposalIds.add(e.proposalId.toString());
    switch (e.type) {
      case "TimelockCallExecuted":
      case "TimelockCancelled":
        operationIds.add(e.operationId);
        break;
      case "Transfer":
        addresses.add(e.from).add(e.to);
        break;
      case "DelegateChanged":
        addresses.add(e.delegator).add(e.fromDelegate).add(e.toDelegate);
        break;
      case "DelegateVotesChanged":
        addresses.add(e.delegate);
        break;
    }
  }
  const proposals = new Map<string, ProposalRow>();
  for (const chunk of chunks([...proposalIds], 5000)) {
    for (const row of await trx.selectFrom("proposals").selectAll().where("id", "in", chunk).execute()) {
      proposals.set(row.id, row);
    }
  }
  for (const chunk of chunks([...operationIds], 5000)) {
    for (const row of await trx.selectFrom("proposals").selectAll().where("operation_id", "in", chunk).execute()) {
      proposals.set(row.id, row);
    }
  }
  const accounts = new Map<string, AccountState>();
  for (const chunk of chunks([...addresses], 5000)) {
    for (const row of await trx.selectFrom("accounts").selectAll().where("address", "in", chunk).execute()) {
      accounts.set(row.address, {
        address: row.address,
        balance: BigInt(row.balance),
        delegate: row.delegate,
        votingPower: BigInt(row.voting_power),
        delegators: row.delegators,
        updatedBlock: row.updated_block,
      });
    }
  }
  return { proposals, accounts };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
