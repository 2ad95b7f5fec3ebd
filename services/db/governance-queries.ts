import { type ExpressionBuilder, type Kysely, type Selectable, type SelectQueryBuilder, sql } from "kysely";
import { deriveProposalState, type ProposalState } from "../chain/proposal-state.ts";
import type {
  AccountsTable,
  GrantsTable,
  IndexerCheckpointTable,
  PolicyVersionsTable,
  ProposalEventsTable,
  ProposalsTable,
  VotesTable,
} from "./index-tables.ts";
import type { Database } from "./schema.ts";

/**
 * Read queries over the governance index, for the API. Lists use keyset pagination: a page starts
 * strictly after the position of the previous page's last row in a total order, so rows added while a
 * client pages never make it see a row twice or skip one that was there when it started.
 */

export type ProposalRow = Selectable<ProposalsTable>;
export type ProposalEventRow = Selectable<ProposalEventsTable>;
export type VoteRow = Selectable<VotesTable>;
export type AccountRow = Selectable<AccountsTable>;
export type PolicyVersionRow = Selectable<PolicyVersionsTable>;
export type GrantRow = Selectable<GrantsTable>;
export type CheckpointRow = Selectable<IndexerCheckpointTable>;

/** A position in a list's order: the sort key values of one row. */
export type Position = readonly (string | number)[];

export interface PageRequest {
  first: number;
  after: Position | null;
}

export interface Page<T> {
  rows: T[];
  hasNextPage: boolean;
}

type Db = Kysely<Database>;

async function takePage<T>(query: { execute(): Promise<T[]> }, first: number): Promise<Page<T>> {
  const rows = await query.execute();
  return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
}

export interface ProposalFilter {
  states?: readonly ProposalState[];
  kinds?: readonly string[];
  proposer?: string;
  /** Unix seconds, inclusive. */
  createdFrom?: number;
  /** Unix seconds, exclusive. */
  createdUntil?: number;
  /** The clock the derived states are judged at (Unix seconds). */
  now: number;
}

/**
 * The SQL twin of deriveProposalState: which rows are in `state` at `now`. Kept next to the list query
 * so that filtering by state and showing the state agree.
 */
/** A proposal's state at `now`, from its indexed row: the same rule as `inState`, for one row in memory. */
export function proposalStateOf(p: ProposalRow, now: number): ProposalState {
  return deriveProposalState(
    {
      status: p.status,
      voteStart: p.vote_start,
      voteEnd: p.vote_end,
      forVotes: BigInt(p.for_votes),
      againstVotes: BigInt(p.against_votes),
      abstainVotes: BigInt(p.abstain_votes),
      quorum: BigInt(p.quorum),
      superQuorum: p.super_quorum === null ? null : BigInt(p.super_quorum),
      eta: p.eta,
    },
    now,
  );
}

function inState(eb: ExpressionBuilder<Database, "proposals">, state: ProposalState, now: number) {
  const open = eb("status", "not in", ["EXECUTED", "CANCELED"]);
  const ended = eb("vote_end", "<", now);
  const passed = sql<boolean>`(quorum <= for_votes + abstain_votes and for_votes > against_votes)`;
  const voting = eb.and([eb("vote_start", "<", now), eb("vote_end", ">=", now)]);
  // GovernorSuperQuorum: decided while voting is still open.
  const early = sql<boolean>`(super_quorum is not null and for_votes >= super_quorum and for_votes > against_votes)`;
  const decided = eb.or([eb.and([ended, passed]), eb.and([voting, early])]);
  switch (state) {
    case "EXECUTED":
    case "CANCELED":
      return eb("status", "=", state);
    case "PENDING":
      return eb.and([open, eb("vote_start", ">=", now)]);
    case "ACTIVE":
      return eb.and([open, voting, eb.not(early)]);
    case "DEFEATED":
      return eb.and([open, ended, eb.not(passed)]);
    case "SUCCEEDED":
      return eb.and([eb("status", "=", "PENDING"), decided]);
    case "QUEUED":
      return eb.and([eb("status", "=", "QUEUED"), decided]);
    case "EXPIRED":
      // A timelocked OpenZeppelin 5 proposal never expires.
      return sql<boolean>`false`;
  }
}

function filterProposals<O>(query: SelectQueryBuilder<Database, "proposals", O>, f: ProposalFilter) {
  let q = query;
  if (f.states && f.states.length > 0) {
    const states = f.states;
    q = q.where((eb) => eb.or(states.map((s) => inState(eb, s, f.now))));
  }
  if (f.kinds && f.kinds.length > 0) q = q.where(sql<boolean>`kinds && ${sql.val([...f.kinds])}::text[]`);
  if (f.proposer !== undefined) q = q.where("proposer", "=", f.proposer);
  if (f.createdFrom !== undefined) q = q.where("created_time", ">=", f.createdFrom);
  if (f.createdUntil !== undefined) q = q.where("created_time", "<", f.createdUntil);
  return q;
}

/** Proposals newest first (creation block, then log index). Position: [created_block, created_log_index]. */
export async function listProposals(db: Db, filter: ProposalFilter, page: PageRequest): Promise<Page<ProposalRow>> {
  let q = filterProposals(db.selectFrom("proposals").selectAll(), filter);
  if (page.after) q = q.where(sql<boolean>`(created_block, created_log_index) < (${page.after[0]}, ${page.after[1]})`);
  q = q
    .orderBy("created_block", "desc")
    .orderBy("created_log_index", "desc")
    .limit(page.first + 1);
  return takePage(q, page.first);
}

export function proposalPosition(row: ProposalRow): Position {
  return [row.created_block, row.created_log_index];
}

export async function countProposals(db: Db, filter: ProposalFilter): Promise<number> {
  const row = await filterProposals(
    db.selectFrom("proposals").select((eb) => eb.fn.countAll<string>().as("n")),
    filter,
  ).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function proposalsByIds(db: Db, ids: readonly string[]): Promise<ProposalRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom("proposals").selectAll().where("id", "in", ids).execute();
}

/** Every recorded transition of the given proposals, oldest first. */
export async function proposalEvents(db: Db, ids: readonly string[]): Promise<ProposalEventRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom("proposal_events")
    .selectAll()
    .where("proposal_id", "in", ids)
    .orderBy("block_number")
    .orderBy("log_index")
    .execute();
}

export interface VoteFilter {
  proposalId?: string;
  voter?: string;
  support?: number;
}

function filterVotes<O>(query: SelectQueryBuilder<Database, "votes", O>, f: VoteFilter) {
  let q = query;
  if (f.proposalId !== undefined) q = q.where("proposal_id", "=", f.proposalId);
  if (f.voter !== undefined) q = q.where("voter", "=", f.voter);
  if (f.support !== undefined) q = q.where("support", "=", f.support);
  return q;
}

/** Votes newest first. Position: [block_number, log_index] (one vote per log). */
export async function listVotes(db: Db, filter: VoteFilter, page: PageRequest): Promise<Page<VoteRow>> {
  let q = filterVotes(db.selectFrom("votes").selectAll(), filter);
  if (page.after) q = q.where(sql<boolean>`(block_number, log_index) < (${page.after[0]}, ${page.after[1]})`);
  q = q
    .orderBy("block_number", "desc")
    .orderBy("log_index", "desc")
    .limit(page.first + 1);
  return takePage(q, page.first);
}

export function votePosition(row: VoteRow): Position {
  return [row.block_number, row.log_index];
}

export async function countVotes(db: Db, filter: VoteFilter): Promise<number> {
  const row = await filterVotes(
    db.selectFrom("votes").select((eb) => eb.fn.countAll<string>().as("n")),
    filter,
  ).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * The first page of votes of many proposals in one query (a lateral join per proposal), for a list of
 * proposals that shows each one's latest votes. `first + 1` rows per proposal tell whether more follow.
 */
export async function firstVotesOf(
  db: Db,
  ids: readonly string[],
  first: number,
  support: number | undefined,
): Promise<VoteRow[]> {
  if (ids.length === 0) return [];
  const supportFilter = support === undefined ? sql`` : sql`and v.support = ${support}`;
  const result = await sql<VoteRow>`
    select v.* from unnest(${sql.val([...ids])}::numeric[]) as p(id)
    cross join lateral (
      select * from votes v where v.proposal_id = p.id ${supportFilter}
      order by v.block_number desc, v.log_index desc limit ${first + 1}
    ) v`.execute(db);
  return result.rows;
}

export async function votesByKeys(db: Db, keys: readonly { proposalId: string; voter: string }[]): Promise<VoteRow[]> {
  if (keys.length === 0) return [];
  return db
    .selectFrom("votes")
    .selectAll()
    .where((eb) => eb.or(keys.map((k) => eb.and([eb("proposal_id", "=", k.proposalId), eb("voter", "=", k.voter)]))))
    .execute();
}

/** Accounts with voting power or delegators, strongest first. Position: [voting_power, address]. */
export async function listDelegates(db: Db, page: PageRequest): Promise<Page<AccountRow>> {
  let q = db
    .selectFrom("accounts")
    .selectAll()
    .where((eb) => eb.or([eb("voting_power", ">", "0"), eb("delegators", ">", 0)]));
  if (page.after) {
    q = q.where(sql<boolean>`(voting_power < ${page.after[0]}::numeric
      or (voting_power = ${page.after[0]}::numeric and address > ${page.after[1]}))`);
  }
  q = q
    .orderBy("voting_power", "desc")
    .orderBy("address")
    .limit(page.first + 1);
  return takePage(q, page.first);
}

export function delegatePosition(row: AccountRow): Position {
  return [row.voting_power, row.address];
}

export async function countDelegates(db: Db): Promise<number> {
  const row = await db
    .selectFrom("accounts")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where((eb) => eb.or([eb("voting_power", ">", "0"), eb("delegators", ">", 0)]))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function accountsByAddress(db: Db, addresses: readonly string[]): Promise<AccountRow[]> {
  if (addresses.length === 0) return [];
  return db.selectFrom("accounts").selectAll().where("address", "in", addresses).execute();
}

export interface PolicyFilter {
  approved?: boolean;
  suspended?: boolean;
}

/** The guardian's appointments and removals and the suspension period's changes, newest first. */
export async function listGuardianChanges(db: Db, first: number) {
  return db
    .selectFrom("guardian_changes")
    .selectAll()
    .orderBy("block_number", "desc")
    .orderBy("log_index", "desc")
    .limit(first)
    .execute();
}

/** The newest version of every model policy, by model id. Position: [model_id]. */
export async function listPolicies(db: Db, filter: PolicyFilter, page: PageRequest): Promise<Page<PolicyVersionRow>> {
  let q = db
    .selectFrom((eb) =>
      eb
        .selectFrom("policy_versions")
        .selectAll()
        .distinctOn("model_id")
        .orderBy("model_id")
        .orderBy("version", "desc")
        .as("current"),
    )
    .selectAll();
  if (filter.approved !== undefined) q = q.where("approved", "=", filter.approved);
  if (filter.suspended !== undefined) q = q.where("suspended", "=", filter.suspended);
  if (page.after) q = q.where("model_id", ">", String(page.after[0]));
  return takePage(q.orderBy("model_id").limit(page.first + 1), page.first);
}

export function policyPosition(row: PolicyVersionRow): Position {
  return [row.model_id];
}

/** Every version of the given models, newest first. */
export async function policyVersions(db: Db, modelIds: readonly string[]): Promise<PolicyVersionRow[]> {
  if (modelIds.length === 0) return [];
  return db
    .selectFrom("policy_versions")
    .selectAll()
    .where("model_id", "in", modelIds)
    .orderBy("model_id")
    .orderBy("version", "desc")
    .execute();
}

export interface GrantFilter {
  grantee?: string;
  model?: string;
  includeRevoked: boolean;
}

function filterGrants<O>(query: SelectQueryBuilder<Database, "grants", O>, f: GrantFilter) {
  let q = query;
  if (f.grantee !== undefined) q = q.where("grantee", "=", f.grantee);
  if (f.model !== undefined) q = q.where("model_id", "=", f.model);
  if (!f.includeRevoked) q = q.where("revoked", "=", false);
  return q;
}

/** Grants newest first. Position: [grant_id] (ids increase with time). */
export async function listGrants(db: Db, filter: GrantFilter, page: PageRequest): Promise<Page<GrantRow>> {
  let q = filterGrants(db.selectFrom("grants").selectAll(), filter);
  if (page.after) q = q.where(sql<boolean>`grant_id < ${page.after[0]}::numeric`);
  return takePage(q.orderBy("grant_id", "desc").limit(page.first + 1), page.first);
}

export function grantPosition(row: GrantRow): Position {
  return [row.grant_id];
}

export async function countGrants(db: Db, filter: GrantFilter): Promise<number> {
  const row = await filterGrants(
    db.selectFrom("grants").select((eb) => eb.fn.countAll<string>().as("n")),
    filter,
  ).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The indexer's checkpoint (the newest, should there ever be several). */
export async function indexCheckpoint(db: Db): Promise<CheckpointRow | null> {
  const row = await db
    .selectFrom("indexer_checkpoint")
    .selectAll()
    .orderBy("updated_at", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ?? null;
}

/** How many votes with `support` each proposal has. */
export async function countVotesOf(db: Db, ids: readonly string[], support: number): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("votes")
    .select(["proposal_id", (eb) => eb.fn.countAll<string>().as("n")])
    .where("proposal_id", "in", ids)
    .where("support", "=", support)
    .groupBy("proposal_id")
    .execute();
  return new Map(rows.map((r) => [r.proposal_id, Number(r.n)]));
}
