import { randomUUID } from "node:crypto";
import { type Kysely, sql, type Transaction } from "kysely";
import type { GovernanceEvent } from "../chain/events.ts";
import type { BlockHeader } from "../chain/rpc.ts";
import { notifyIn } from "../db/connection.ts";
import type { Database } from "../db/schema.ts";
import { shadowObservations } from "../db/shadow-observations.ts";
import { type EventDraft, MILESTONE_KEYS, mapRange, type ProposalFacts } from "./events.ts";

/** Payload-less NOTIFY that wakes the delivering leader when the outbox has something new. */
export const OUTBOX_CHANNEL = "commons_notifications";

/** What the indexer's range and rollback transactions call: the outbox's side of the index. */
export interface IndexOutbox {
  afterRange(
    trx: Transaction<Database>,
    range: { from: number; to: number; events: GovernanceEvent[]; blocks: Map<number, BlockHeader> },
  ): Promise<void>;
  afterRollback(trx: Transaction<Database>, ancestor: number): Promise<void>;
}

const POLICY_KINDS = new Set(["SET_MODEL_POLICY", "SUSPEND_MODEL"]);

/**
 * The outbox writer the indexer runs inside its transactions: events exist exactly when the range that
 * caused them committed, and a rollback retracts the events of the blocks it removes.
 */
export function createIndexOutbox(options: { endingWithinS: number }): IndexOutbox {
  return {
    async afterRange(trx, range) {
      const proposals = await loadProposalFacts(trx, range.events);
      const shadow = new Map<string, Record<string, unknown>>();
      for (const e of range.events) {
        if (e.type !== "ProposalQueued" && e.type !== "ProposalExecuted") continue;
        const p = proposals.get(e.proposalId.toString());
        if (p && p.models.length > 0 && !shadow.has(p.id)) {
          const observed = await shadowObservations(trx, p.id);
          if (observed.groups.length > 0) shadow.set(p.id, { ...observed });
        }
      }
      const knownBlocks = [...range.blocks.values()]
        .filter((b) => b.number >= range.from && b.number <= range.to)
        .map((b) => ({ number: b.number, time: b.timestamp }))
        .sort((a, b) => a.number - b.number);
      const hasVotes = range.events.some((e) => e.type === "VoteCast");
      const followed = hasVotes ? await followedVoters(trx) : new Set<string>();
      const drafts = mapRange({
        events: range.events,
        blockTime: (block) => (range.blocks.get(block) as BlockHeader).timestamp,
        knownBlocks,
        proposals,
        shadow,
        endingWithinS: options.endingWithinS,
        followed,
      });
      await writeEvents(trx, drafts);
    },

    async afterRollback(trx, ancestor) {
      const retracted = await sql<{ id: string }>`
        with gone as (
          update notification_events set retracted = true, dedupe_key = null
          where block_number > ${ancestor} and not retracted and retracts is null
          returning seq, id, type, proposal_id, recipient, block_number, occurred_at)
        insert into notification_events (id, type, proposal_id, recipient, retracts, data, occurred_at)
        select gen_random_uuid()::text, 'event.retracted', proposal_id, recipient, id,
          jsonb_build_object('retracts', id, 'type', type, 'proposalId', proposal_id,
            'block', block_number, 'reason', 'REORG', 'ancestorBlock', ${ancestor}::bigint),
          occurred_at
        from gone order by seq
        returning id`.execute(trx);
      if (retracted.rows.length > 0) await notifyIn(trx, OUTBOX_CHANNEL, "");
    },
  };
}

/** Writes drafts to the outbox (a fact already there is skipped) and wakes the deliverer. */
export async function writeEvents(trx: Kysely<Database>, drafts: EventDraft[]): Promise<void> {
  if (drafts.length === 0) return;
  for (let i = 0; i < drafts.length; i += 1000) {
    await trx
      .insertInto("notification_events")
      .values(
        drafts.slice(i, i + 1000).map((d) => ({
          id: randomUUID(),
          type: d.type,
          dedupe_key: d.dedupeKey,
          proposal_id: d.proposalId,
          actor: d.actor,
          recipient: d.recipient,
          models: d.models,
          block_number: d.block,
          retracts: null,
          data: JSON.stringify(d.data),
          occurred_at: new Date(d.time * 1000),
        })),
      )
      .onConflict((oc) => oc.column("dedupe_key").doNothing())
      .execute();
  }
  await notifyIn(trx, OUTBOX_CHANNEL, "");
}

/** Delegates that live subscriptions follow (their `delegates` filter). */
async function followedVoters(trx: Transaction<Database>): Promise<Set<string>> {
  const { rows } = await sql<{ voter: string }>`
    select distinct unnest(delegates) as voter from notification_subscriptions
    where active and verified and delegates is not null`.execute(trx);
  return new Set(rows.map((r) => r.voter));
}

/**
 * The proposals the range touched, and every proposal still awaiting a milestone (not decided yet), with
 * the milestones already written.
 */
async function loadProposalFacts(
  trx: Transaction<Database>,
  events: GovernanceEvent[],
): Promise<Map<string, ProposalFacts>> {
  const ids = new Set<string>();
  const operations = new Set<string>();
  for (const e of events) {
    if ("proposalId" in e) ids.add(e.proposalId.toString());
    if (e.type === "TimelockCallExecuted" || e.type === "TimelockCancelled") operations.add(e.operationId);
  }
  const { rows } = await sql<{
    id: string;
    operation_id: string;
    status: string;
    vote_start: number;
    vote_end: number;
    for_votes: string;
    against_votes: string;
    abstain_votes: string;
    quorum: string;
    super_quorum: string | null;
    actions: Record<string, unknown>[];
    canceled_at: number | null;
    emitted: string[];
  }>`
    select p.id, p.operation_id, p.status, p.vote_start, p.vote_end, p.for_votes, p.against_votes,
      p.abstain_votes, p.quorum, p.super_quorum, p.actions,
      (select min(block_time) from proposal_events c where c.proposal_id = p.id and c.event = 'CANCELED')
        as canceled_at,
      array(select e.dedupe_key from notification_events e
        where e.dedupe_key = any(array[${sql.join(MILESTONE_KEYS.map((k) => sql`'proposal:' || p.id || ':' || ${k}`))}]))
        as emitted
    from proposals p
    where p.id = any(${[...ids]}::numeric[]) or p.operation_id = any(${[...operations]}::text[])
      or (p.status = 'PENDING' and not exists (
        select 1 from notification_events d where d.dedupe_key = 'proposal:' || p.id || ':decided'))`.execute(trx);
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        operationId: r.operation_id,
        status: r.status,
        voteStart: Number(r.vote_start),
        voteEnd: Number(r.vote_end),
        forVotes: BigInt(r.for_votes),
        againstVotes: BigInt(r.against_votes),
        abstainVotes: BigInt(r.abstain_votes),
        quorum: BigInt(r.quorum),
        superQuorum: r.super_quorum === null ? null : BigInt(r.super_quorum),
        models: [...new Set(r.actions.filter((a) => POLICY_KINDS.has(String(a.kind))).map((a) => String(a.modelId)))],
        canceledAt: r.canceled_at === null ? null : Number(r.canceled_at),
        emitted: new Set(r.emitted),
      },
    ]),
  );
}
