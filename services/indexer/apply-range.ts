import { getAddress, id as keccakText, ZeroAddress } from "ethers";
import type { Insertable, Transaction } from "kysely";
import type { PolicyRules } from "../chain/actions.ts";
import { decodeCall } from "../chain/actions.ts";
import { type Deployment, governanceOf } from "../chain/deployment.ts";
import type { GovernanceEvent } from "../chain/events.ts";
import type { BlockHeader, TransactionParties } from "../chain/rpc.ts";
import { timelockOperationId } from "../chain/timelock-operation.ts";
import type { Database } from "../db/schema.ts";
import { AppError } from "../shared/errors.ts";
import { insertMany } from "./batch-insert.ts";
import type { GovernanceNotification } from "./notifications.ts";
import { recomputeQuorums } from "./quorum.ts";
import { type AccountState, loadTouched, type ProposalRow } from "./range-state.ts";

type Row<T extends keyof Database> = Insertable<Database[T]>;

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

export interface RangeEffects {
  totalSupply: bigint;
  policyChanged: boolean;
  governance: GovernanceNotification[];
}

/** Events whose transaction must be read: a cancellation does not name who canceled. */
export function needsTransaction(e: GovernanceEvent): boolean {
  return e.type === "ProposalCanceled" || e.type === "TimelockCancelled";
}

const supportColumn = { 0: "against_votes", 1: "for_votes", 2: "abstain_votes" } as const;

/**
 * Applies one range's events to the index inside `trx`. Every row written depends only on the events
 * (never on where range boundaries fall), so any split of the chain into ranges gives the same rows.
 */
export async function applyRange(
  trx: Transaction<Database>,
  deployment: Deployment,
  input: RangeInput,
): Promise<RangeEffects> {
  const { events, blocks } = input;
  // An existing DAO's index starts at a block of the operator's choice, and its quorums are read from
  // its governor (input.quorums) instead of derived.
  const existingDao = governanceOf(deployment).origin === "existing";
  const time = (block: number) => (blocks.get(block) as BlockHeader).timestamp;
  const { proposals, accounts } = await loadTouched(trx, events);
  const byOperation = new Map([...proposals.values()].map((p) => [p.operation_id, p]));

  // The proposal a transaction executed: the enacting proposal of every policy/grant/pool/setting row
  // written by that transaction (ProposalExecuted comes last in the transaction, hence this first pass).
  const executedInTx = new Map<string, string>();
  const canceledInTx = new Set<string>();
  for (const e of events) {
    if (e.type === "ProposalExecuted") executedInTx.set(e.txHash, e.proposalId.toString());
    if (e.type === "ProposalCanceled") canceledInTx.add(`${e.txHash}:${e.proposalId}`);
  }
  const enactedBy = (e: GovernanceEvent) => executedInTx.get(e.txHash) ?? null;
  // The account whose call canceled: a transaction sent to the governor or the timelock was called by its
  // sender (the proposer, the guardian, the timelock's canceller); one sent to another contract (a multisig
  // wallet) reached ours through it, and that contract is the caller they saw. Deeper chains of calls
  // would need a trace, which not every node serves.
  const ours = new Set([deployment.contracts.governor, deployment.contracts.timelock].map((a) => getAddress(a)));
  const cancellerOf = (e: GovernanceEvent): string => {
    const tx = input.transactions.get(e.txHash);
    if (!tx) throw new AppError("INTERNAL", `the canceling transaction ${e.txHash} was not read`);
    return tx.to === null || ours.has(tx.to) ? tx.from : tx.to;
  };

  const created = new Set<string>();
  const dirty = new Set<string>();
  const votes: Row<"votes">[] = [];
  const proposalEvents: Row<"proposal_events">[] = [];
  const policyRows: Row<"policy_versions">[] = [];
  const grantRows = new Map<string, Row<"grants">>();
  const revocations: { grantId: string; proposalId: string | null; block: number; tx: string }[] = [];
  const poolRows: Row<"community_pool_versions">[] = [];
  const eligibilityRows: Row<"pool_eligibility_versions">[] = [];
  const settingRows: Row<"governor_settings">[] = [];
  const guardianRows: Row<"guardian_changes">[] = [];
  const history = new Map<string, Row<"account_history">>();
  const dirtyAccounts = new Set<string>();
  const voteNotes: GovernanceNotification[] = [];
  let totalSupply = input.totalSupply;
  let quorumFrom: number | undefined;

  const touch = (p: ProposalRow, block: number) => {
    p.updated_block = block;
    if (!created.has(p.id)) dirty.add(p.id);
  };
  const record = (p: ProposalRow, e: GovernanceEvent, event: string, data: Record<string, unknown> | null) => {
    proposalEvents.push({
      proposal_id: p.id,
      event,
      block_number: e.blockNumber,
      block_time: time(e.blockNumber),
      tx_hash: e.txHash,
      log_index: e.logIndex,
      data: data === null ? null : JSON.stringify(data),
    });
  };
  const account = (address: string, block: number): AccountState => {
    let a = accounts.get(address);
    if (!a) {
      a = { address, balance: 0n, delegate: null, votingPower: 0n, delegators: 0, updatedBlock: block };
      accounts.set(address, a);
    }
    return a;
  };
  const changed = (a: AccountState, block: number) => {
    a.updatedBlock = block;
    dirtyAccounts.add(a.address);
    history.set(`${a.address}:${block}`, {
      address: a.address,
      block_number: block,
      balance: a.balance.toString(),
      delegate: a.delegate,
      voting_power: a.votingPower.toString(),
      delegators: a.delegators,
      block_time: time(block),
    });
  };
  const previousRules = async (modelId: string, version: number): Promise<PolicyRules & { approved: boolean }> => {
    const inRange = policyRows.findLast((r) => r.model_id === modelId && r.version === version);
    const row =
      inRange ??
      (await trx
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
  };

  for (const e of events) {
    const block = e.blockNumber;
    switch (e.type) {
      case "Transfer":
        if (e.from === ZeroAddress) totalSupply += e.value;
        else {
          const from = account(e.from, block);
          from.balance -= e.value;
          changed(from, block);
        }
        if (e.to === ZeroAddress) totalSupply -= e.value;
        else {
          const to = account(e.to, block);
          to.balance += e.value;
          changed(to, block);
        }
        break;
      case "DelegateChanged": {
        const delegator = account(e.delegator, block);
        delegator.delegate = e.toDelegate === ZeroAddress ? null : e.toDelegate;
        changed(delegator, block);
        if (e.fromDelegate !== ZeroAddress) {
          const from = account(e.fromDelegate, block);
          // Never below zero: an existing DAO's delegations made before the index began are not counted.
          from.delegators = Math.max(0, from.delegators - 1);
          changed(from, block);
        }
        if (e.toDelegate !== ZeroAddress) {
          const to = account(e.toDelegate, block);
          to.delegators += 1;
          changed(to, block);
        }
        break;
      }
      case "DelegateVotesChanged": {
        const delegate = account(e.delegate, block);
        delegate.votingPower = e.newVotes;
        changed(delegate, block);
        break;
      }
      case "ProposalCreated": {
        const descriptionHash = keccakText(e.description);
        const actions = e.targets.map((target, i) =>
          jsonSafe(decodeCall(deployment.contracts, target, e.calldatas[i] as string)),
        );
        const p: ProposalRow = {
          id: e.proposalId.toString(),
          proposer: e.proposer,
          description: e.description,
          description_hash: descriptionHash,
          targets: e.targets,
          values: e.values.map(String),
          calldatas: e.calldatas,
          operation_id: timelockOperationId(
            deployment.contracts.governor,
            e.targets,
            e.values,
            e.calldatas,
            descriptionHash,
          ),
          actions,
          kinds: [...new Set(actions.map((a) => a.kind as string))],
          vote_start: e.voteStart,
          vote_end: e.voteEnd,
          eta: null,
          status: "PENDING",
          for_votes: "0",
          against_votes: "0",
          abstain_votes: "0",
          vote_count: 0,
          quorum: "0",
          super_quorum: null,
          canceled_by: null,
          created_block: block,
          created_time: time(block),
          created_tx: e.txHash,
          created_log_index: e.logIndex,
          updated_block: block,
        };
        proposals.set(p.id, p);
        byOperation.set(p.operation_id, p);
        created.add(p.id);
        record(p, e, "CREATED", { voteStart: e.voteStart, voteEnd: e.voteEnd });
        break;
      }
      case "ProposalQueued": {
        const p = known(proposals, e.proposalId, existingDao);
        if (!p) break;
        p.status = "QUEUED";
        p.eta = e.eta;
        touch(p, block);
        record(p, e, "QUEUED", { eta: e.eta });
        break;
      }
      case "ProposalExecuted": {
        const p = known(proposals, e.proposalId, existingDao);
        if (!p) break;
        p.status = "EXECUTED";
        touch(p, block);
        record(p, e, "EXECUTED", null);
        break;
      }
      case "ProposalCanceled": {
        const p = known(proposals, e.proposalId, existingDao);
        if (!p) break;
        p.status = "CANCELED";
        p.canceled_by = cancellerOf(e);
        touch(p, block);
        record(p, e, "CANCELED", { by: p.canceled_by });
        break;
      }
      case "ProposalExtended": {
        const p = known(proposals, e.proposalId, existingDao);
        if (!p) break;
        p.vote_end = e.deadline;
        touch(p, block);
        record(p, e, "EXTENDED", { deadline: e.deadline });
        break;
      }
      case "TimelockCallExecuted": {
        // Executed on the timelock directly (no ProposalExecuted in the transaction): still executed.
        const p = byOperation.get(e.operationId);
        if (!p || executedInTx.get(e.txHash) === p.id || p.status === "EXECUTED") break;
        p.status = "EXECUTED";
        executedInTx.set(e.txHash, p.id);
        touch(p, block);
        record(p, e, "EXECUTED", { via: "timelock" });
        break;
      }
      case "TimelockCancelled": {
        const p = byOperation.get(e.operationId);
        if (!p || canceledInTx.has(`${e.txHash}:${p.id}`) || p.status === "CANCELED") break;
        p.status = "CANCELED";
        p.canceled_by = cancellerOf(e);
        touch(p, block);
        record(p, e, "CANCELED", { via: "timelock", by: p.canceled_by });
        break;
      }
      case "VoteCast": {
        const p = known(proposals, e.proposalId, existingDao);
        if (!p) break;
        const column = supportColumn[e.support as 0 | 1 | 2];
        if (column) p[column] = (BigInt(p[column]) + e.weight).toString();
        p.vote_count += 1;
        touch(p, block);
        votes.push({
          proposal_id: p.id,
          voter: e.voter,
          support: e.support,
          weight: e.weight.toString(),
          reason: e.reason,
          block_number: block,
          block_time: time(block),
          tx_hash: e.txHash,
          log_index: e.logIndex,
        });
        voteNotes.push({ type: "vote", proposalId: p.id, voter: e.voter });
        break;
      }
      case "GovernorSettingChanged":
        settingRows.push({
          setting: e.setting,
          value: e.value.toString(),
          effective_from: time(block),
          proposal_id: enactedBy(e),
          block_number: block,
          log_index: e.logIndex,
          tx_hash: e.txHash,
        });
        if (e.setting === "QUORUM_NUMERATOR") quorumFrom = Math.min(quorumFrom ?? time(block), time(block));
        break;
      case "PolicySet":
        policyRows.push(policyRow(e, e.rules, null, enactedBy(e), time(block)));
        break;
      case "ModelSuspended": {
        const rules = await previousRules(e.modelId, e.previousVersion);
        policyRows.push(policyRow(e, rules, e, enactedBy(e), time(block)));
        break;
      }
      case "ProposalGuardianSet":
      case "GuardianSuspensionPeriodSet":
        guardianRows.push({
          block_number: block,
          log_index: e.logIndex,
          kind: e.type === "ProposalGuardianSet" ? "GUARDIAN" : "SUSPENSION_PERIOD",
          value: e.type === "ProposalGuardianSet" ? e.guardian : String(e.period),
          proposal_id: enactedBy(e),
          block_time: time(block),
          tx_hash: e.txHash,
        });
        break;
      case "GrantCreated":
        grantRows.set(e.grantId.toString(), {
          grant_id: e.grantId.toString(),
          grantee: e.grantee,
          model_id: e.modelId,
          tokens_per_epoch: e.tokensPerEpoch.toString(),
          start_time: e.start,
          end_time: e.end,
          revoked: false,
          proposal_id: enactedBy(e),
          block_number: block,
          block_time: time(block),
          tx_hash: e.txHash,
          revoked_proposal_id: null,
          revoked_block: null,
          revoked_tx: null,
        });
        break;
      case "GrantRevoked": {
        const revocation = { grantId: e.grantId.toString(), proposalId: enactedBy(e), block, tx: e.txHash };
        const fresh = grantRows.get(revocation.grantId);
        if (fresh) {
          Object.assign(fresh, {
            revoked: true,
            revoked_proposal_id: revocation.proposalId,
            revoked_block: block,
            revoked_tx: e.txHash,
          });
        } else revocations.push(revocation);
        break;
      }
      case "CommunityPoolSet":
        poolRows.push({
          block_number: block,
          log_index: e.logIndex,
          allowance_per_address: e.pool.allowancePerAddress.toString(),
          pool_size_per_epoch: e.pool.poolSizePerEpoch.toString(),
          epoch_length: e.pool.epochLength,
          proposal_id: enactedBy(e),
          block_time: time(block),
          tx_hash: e.txHash,
        });
        break;
      case "PoolEligibilitySet":
        eligibilityRows.push({
          block_number: block,
          log_index: e.logIndex,
          min_votes: e.minVotes.toString(),
          proposal_id: enactedBy(e),
          block_time: time(block),
          tx_hash: e.txHash,
        });
        break;
    }
  }

  for (const [id, quorum] of input.quorums ?? []) {
    const p = proposals.get(id);
    if (p) p.quorum = quorum.toString();
  }

  await insertMany(
    trx,
    "proposals",
    [...created].map((id) => {
      const p = proposals.get(id) as ProposalRow;
      return {
        ...p,
        targets: JSON.stringify(p.targets),
        values: JSON.stringify(p.values),
        calldatas: JSON.stringify(p.calldatas),
        actions: JSON.stringify(p.actions),
      };
    }),
  );
  for (const id of dirty) {
    const p = proposals.get(id) as ProposalRow;
    await trx
      .updateTable("proposals")
      .set({
        status: p.status,
        eta: p.eta,
        canceled_by: p.canceled_by,
        vote_end: p.vote_end,
        for_votes: p.for_votes,
        against_votes: p.against_votes,
        abstain_votes: p.abstain_votes,
        vote_count: p.vote_count,
        quorum: p.quorum,
        updated_block: p.updated_block,
      })
      .where("id", "=", id)
      .execute();
  }
  await insertMany(trx, "votes", votes);
  await insertMany(trx, "proposal_events", proposalEvents);
  await upsertAccounts(
    trx,
    [...dirtyAccounts].map((a) => accounts.get(a) as AccountState),
  );
  await insertMany(trx, "account_history", [...history.values()]);
  await insertMany(trx, "policy_versions", policyRows);
  await insertMany(trx, "grants", [...grantRows.values()]);
  for (const r of revocations) {
    await trx
      .updateTable("grants")
      .set({ revoked: true, revoked_proposal_id: r.proposalId, revoked_block: r.block, revoked_tx: r.tx })
      .where("grant_id", "=", r.grantId)
      .execute();
  }
  await insertMany(trx, "community_pool_versions", poolRows);
  await insertMany(trx, "pool_eligibility_versions", eligibilityRows);
  await insertMany(trx, "governor_settings", settingRows);
  await insertMany(trx, "guardian_changes", guardianRows);
  await writeBlocksAndCheckpoint(trx, input, totalSupply);
  if (!existingDao && (created.size > 0 || quorumFrom !== undefined)) {
    await recomputeQuorums(trx, input.checkpointId, {
      ...(created.size > 0 ? { createdFrom: input.from } : {}),
      ...(quorumFrom !== undefined ? { voteStartFrom: quorumFrom } : {}),
    });
  }

  const proposalNotes: GovernanceNotification[] = [...created, ...dirty].map((proposalId) => ({
    type: "proposal",
    proposalId,
  }));
  return {
    totalSupply,
    policyChanged:
      policyRows.length + grantRows.size + revocations.length + poolRows.length + eligibilityRows.length > 0,
    governance: [...proposalNotes, ...voteNotes],
  };
}

/** How many recent block hashes are kept to find a common ancestor after a reorg. */
export const KEPT_BLOCKS = 1024;

async function writeBlocksAndCheckpoint(trx: Transaction<Database>, input: RangeInput, totalSupply: bigint) {
  const headers = [...input.blocks.values()];
  await insertMany(
    trx,
    "chain_blocks",
    headers.map((h) => ({ number: h.number, hash: h.hash, parent_hash: h.parentHash, timestamp: h.timestamp })),
  );
  await trx
    .deleteFrom("chain_blocks")
    .where("number", "<", input.to - KEPT_BLOCKS)
    .execute();
  const last = input.blocks.get(input.to) as BlockHeader;
  const checkpoint = {
    block_number: last.number,
    block_hash: last.hash,
    block_time: last.timestamp,
    head_block: input.head,
    total_supply: totalSupply.toString(),
    last_error: null,
    last_error_at: null,
    updated_at: new Date(),
  };
  await trx
    .insertInto("indexer_checkpoint")
    .values({ id: input.checkpointId, chain_id: input.chainId, ...checkpoint })
    .onConflict((oc) => oc.column("id").doUpdateSet(checkpoint))
    .execute();
}

async function upsertAccounts(trx: Transaction<Database>, changed: AccountState[]) {
  const rows = changed.map((a) => ({
    address: a.address,
    balance: a.balance.toString(),
    delegate: a.delegate,
    voting_power: a.votingPower.toString(),
    delegators: a.delegators,
    updated_block: a.updatedBlock,
  }));
  for (let i = 0; i < rows.length; i += 4000) {
    await trx
      .insertInto("accounts")
      .values(rows.slice(i, i + 4000))
      .onConflict((oc) =>
        oc.column("address").doUpdateSet((eb) => ({
          balance: eb.ref("excluded.balance"),
          delegate: eb.ref("excluded.delegate"),
          voting_power: eb.ref("excluded.voting_power"),
          delegators: eb.ref("excluded.delegators"),
          updated_block: eb.ref("excluded.updated_block"),
        })),
      )
      .execute();
  }
}

/** A policy version: the rules set, or (with `suspension`) the previous rules, suspended by a vote or the guardian. */
function policyRow(
  e: GovernanceEvent & { modelId: string; version: number },
  rules: PolicyRules,
  suspension: Extract<GovernanceEvent, { type: "ModelSuspended" }> | null,
  proposalId: string | null,
  blockTime: number,
): Row<"policy_versions"> {
  return {
    model_id: e.modelId,
    version: e.version,
    approved: rules.approved,
    suspended: suspension !== null,
    suspend_reason: suspension?.reason ?? null,
    suspended_until: suspension?.guardian?.until ?? null,
    suspended_by: suspension?.guardian?.address ?? null,
    max_tokens_per_request: rules.maxTokensPerRequest,
    requests_per_minute: rules.requestsPerMinute,
    allowed_purposes: rules.allowedPurposes,
    blocked_terms: rules.blockedTerms,
    guideline_uri: rules.guidelineUri,
    guideline_hash: rules.guidelineHash,
    proposal_id: proposalId,
    block_number: e.blockNumber,
    block_time: blockTime,
    tx_hash: e.txHash,
    log_index: e.logIndex,
  };
}

/**
 * The indexed proposal an event is about. Our governor's index starts with the governor, so an unknown
 * proposal is a gap in the index. An existing DAO's index starts at a block of the operator's choice
 * (`startedLate`): a proposal created before it is not indexed, and its later events are skipped.
 */
function known(proposals: Map<string, ProposalRow>, id: bigint, startedLate: boolean): ProposalRow | undefined {
  const p = proposals.get(id.toString());
  if (!p && !startedLate) {
    throw new AppError("INTERNAL", `proposal ${id} has events but was never created in the index`);
  }
  return p;
}

/** Actions as JSON: bigints become decimal strings. */
function jsonSafe(action: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(action).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]),
  ) as Record<string, unknown>;
}
