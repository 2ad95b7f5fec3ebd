import type { Selectable, Transaction } from "kysely";
import type { GovernanceEvent } from "../chain/events.ts";
import type { Database } from "../db/schema.ts";

export type ProposalRow = Selectable<Database["proposals"]>;

/** An account as the range changes it; amounts as bigints while in memory. */
export interface AccountState {
  address: string;
  balance: bigint;
  delegate: string | null;
  votingPower: bigint;
  delegators: number;
  updatedBlock: number;
}

/**
 * The rows a range will touch, read in a few queries before the range's events are applied, so that
 * applying ten thousand votes is ten thousand map lookups rather than ten thousand queries.
 */
export async function loadTouched(trx: Transaction<Database>, events: GovernanceEvent[]) {
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
