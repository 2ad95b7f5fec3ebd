import { type Kysely, sql, type Transaction } from "kysely";
import pRetry from "p-retry";
import type { DecisionRecord } from "../gateway-decisions.ts";
import type { Database } from "../schema.ts";
import { POOL_TOTAL_ACCOUNT } from "./accounts.ts";

type Db = Kysely<Database> | Transaction<Database>;

/** A budget to reserve from, as the decision chose it. */
export type ReservationSource =
  | { kind: "grant"; account: string; grantId: string; limit: number }
  | { kind: "pool"; account: string; limit: number; poolLimit: number };

export interface Spending {
  /** used + reserved per account this epoch. */
  spent: Map<string, number>;
  requestsThisMinute: number;
}

/** What `accounts` spent in the epoch, and the consumer's requests on `model` this minute: one query. */
export async function readSpending(
  db: Db,
  q: { accounts: string[]; epochStart: number; consumer: string; model: string; minuteStart: number },
): Promise<Spending> {
  const rows = await db
    .selectFrom("gateway_budget_counters")
    .select(["account", sql<number>`used + reserved`.as("spent")])
    .where("epoch_start", "=", q.epochStart)
    .where("account", "in", q.accounts)
    .unionAll(
      db
        .selectFrom("gateway_rate_counters")
        .select([sql<string>`''`.as("account"), "requests as spent"])
        .where("consumer", "=", q.consumer)
        .where("model_id", "=", q.model)
        .where("minute_start", "=", q.minuteStart),
    )
    .execute();
  const spent = new Map<string, number>();
  let requestsThisMinute = 0;
  for (const row of rows) {
    if (row.account === "") requestsThisMinute = Number(row.spent);
    else spent.set(row.account, Number(row.spent));
  }
  return { spent, requestsThisMinute };
}

export interface ReserveInput {
  consumer: string;
  model: string;
  requestsPerMinute: number;
  minuteStart: number;
  epochStart: number;
  amount: number;
  /** Tried in order; the first with room is charged. */
  sources: readonly ReservationSource[];
  /** The audit record to write with the outcome (admitted or refused), in the same transaction. */
  record: DecisionRecord;
  /**
   * An admission may commit without waiting for the disk: the caller then awaits `flushLedger` before
   * it answers the call. Refusals are always committed synchronously.
   */
  deferFlush: boolean;
}

/** What the guarded rows hold after a reservation or settlement: this replica's view of spending. */
export interface SpendingAfter {
  /** used + reserved per account this epoch (only the accounts the statement touched). */
  spent: Map<string, number>;
}

export type ReserveResult = (
  | { ok: true; source: ReservationSource }
  | { ok: false; reason: "RATE_LIMITED" | "BUDGET_EXHAUSTED" }
) &
  SpendingAfter & { requestsThisMinute: number };

/** Distinct keys in first-seen order, each with the last value given for it. */
function keyed<T>() {
  const index = new Map<string, number>();
  const values: T[] = [];
  return {
    values,
    at: (key: string, value: T): number => {
      const i = index.get(key);
      if (i !== undefined) {
        values[i] = value;
        return i;
      }
      index.set(key, values.length);
      values.push(value);
      return values.length - 1;
    },
  };
}

/** The budget counters a call may touch, with the limit each has now (the whole pool's for `pool`). */
function budgetKeys(sources: readonly ReservationSource[]): { account: string; limit: number }[] {
  return sources.flatMap((s) =>
    s.kind === "pool"
      ? [
          { account: s.account, limit: s.limit },
          { account: POOL_TOTAL_ACCOUNT, limit: s.poolLimit },
        ]
      : [{ account: s.account, limit: s.limit }],
  );
}

/**
 * The authoritative, race-free half of a decision for a batch of calls, in one round trip and one
 * transaction (gateway_admit_batch, services/db/ledger/): count each request against its per-minute limit,
 * reserve its worst case from the first source with room, and write its audit record, admitted or
 * refused. Calls are decided in the order given. Every replica goes through the same guarded rows, so
 * concurrent calls never spend more than granted.
 */
export function reserveCalls(db: Kysely<Database>, inputs: readonly ReserveInput[]): Promise<ReserveResult[]> {
  return retryTransient(async () =>
    inputs.length === 1 ? [await reserveOne(db, inputs[0] as ReserveInput)] : reserveBatch(db, inputs),
  );
}

async function reserveBatch(db: Kysely<Database>, inputs: readonly ReserveInput[]): Promise<ReserveResult[]> {
  const rates = keyed<{ consumer: string; model: string; minute: number }>();
  const budgets = keyed<{ account: string; epoch: number; limit: number }>();
  const calls = inputs.map((input) => {
    const rateKey = rates.at(`${input.consumer} ${input.model} ${input.minuteStart}`, {
      consumer: input.consumer,
      model: input.model,
      minute: input.minuteStart,
    });
    const budgetKeysOfCall = budgetKeys(input.sources).map(({ account, limit }) => ({
      account,
      key: budgets.at(`${account} ${input.epochStart}`, { account, epoch: input.epochStart, limit }),
    }));
    return { rateKey, budgetKeysOfCall };
  });
  const payload = inputs.map((input) => ({
    consumer: input.consumer,
    model: input.model,
    minute: input.minuteStart,
    rpm: input.requestsPerMinute,
    epoch: input.epochStart,
    amount: input.amount,
    accounts: input.sources.map((s) => s.account),
    limits: input.sources.map((s) => s.limit),
    pool_limits: input.sources.map((s) => (s.kind === "pool" ? s.poolLimit : null)),
    defer: input.deferFlush,
    record: { ...input.record, source_ids: input.sources.map(sourceId) },
  }));
  const { rows } = await sql<{
    result: { outcomes: string[]; indexes: (number | null)[]; requests: number[]; spent: number[] };
  }>`
    select gateway_admit_batch(
      ${JSON.stringify(payload)}::jsonb,
      ${rates.values.map((r) => r.consumer)}::text[], ${rates.values.map((r) => r.model)}::text[],
      ${rates.values.map((r) => r.minute)}::bigint[],
      ${budgets.values.map((b) => b.account)}::text[], ${budgets.values.map((b) => b.epoch)}::bigint[],
      ${budgets.values.map((b) => b.limit)}::bigint[]) as result`.execute(db);
  const result = rows[0]?.result;
  if (!result || result.outcomes.length !== inputs.length) throw new Error("gateway_admit_batch answered no outcome");
  return inputs.map((input, i) => {
    const { rateKey, budgetKeysOfCall } = calls[i] as (typeof calls)[number];
    const after = {
      spent: new Map(budgetKeysOfCall.map(({ account, key }) => [account, Number(result.spent[key])])),
      requestsThisMinute: Number(result.requests[rateKey]),
    };
    return reserveResult(input.sources, result.outcomes[i], result.indexes[i], after);
  });
}

/** A ledger function's outcome and 1-based source index for one call, as the call's result. */
function reserveResult(
  sources: readonly ReservationSource[],
  outcome: string | undefined,
  sourceIndex: number | null | undefined,
  after: SpendingAfter & { requestsThisMinute: number },
): ReserveResult {
  if (outcome === "ADMITTED" && sourceIndex !== null && sourceIndex !== undefined) {
    return { ok: true, source: sources[sourceIndex - 1] as ReservationSource, ...after };
  }
  return { ok: false, reason: outcome === "RATE_LIMITED" ? "RATE_LIMITED" : "BUDGET_EXHAUSTED", ...after };
}

/** The audit record's `source_id` of a budget: the grant id, or "" for the pool. */
export function sourceId(source: ReservationSource): string {
  return source.kind === "grant" ? source.grantId : "";
}

export interface SettleInput {
  requestId: string;
  consumer: string;
  model: string;
  epochStart: number;
  source: ReservationSource;
  reserved: number;
  /**
   * Tokens to charge: the real usage (0 releases the reservation). It may exceed `reserved` when the
   * upstream billed more than the worst case: the excess is charged too, so the ledger equals the bill.
   */
  charged: number;
  outcome: "COMPLETED" | "UPSTREAM_ERROR" | "CLIENT_CLOSED";
  latencyMs: number;
  overheadMs: number;
  /** The upstream provider that served the call (or failed it last), for its audit record (migrations/0019). */
  provider?: string | null;
  /** For the call's receipt (migrations/0022): the completion's tokens, sha256 of the request and the answer. */
  completionTokens?: number | null;
  requestHash?: string | null;
  responseHash?: string | null;
  /**
   * The call's audit record as admitted, when no reservation wrote it (a call admitted on its replica's
   * slice): it is inserted settled, with the settlement, and the batch commits synchronously.
   */
  record?: DecisionRecord;
  /** The slice the call was admitted on (its replica's lease, and the minute its request counted in). */
  lease?: { owner: string; minuteStart: number };
}

/**
 * Turns a batch of reservations into their real charges in one round trip (gateway_settle_batch,
 * services/db/ledger/): counters, the ledger and the audit records move together, so the ledger always
 * equals the sum of the audit records. Without records to insert the commit is asynchronous: losing it
 * in a crash only leaves the worst case reserved (and the record PENDING, until gateway_sweep).
 * Each record is settled once, so a settlement whose connection was lost is simply sent again.
 */
export function settleCalls(db: Kysely<Database>, inputs: readonly SettleInput[]): Promise<SpendingAfter[]> {
  return retryTransient(async () =>
    inputs.length === 1 ? [await settleOne(db, inputs[0] as SettleInput)] : settleBatch(db, inputs),
  );
}

async function settleBatch(db: Kysely<Database>, inputs: readonly SettleInput[]): Promise<SpendingAfter[]> {
  const budgets = keyed<{ account: string; epoch: number }>();
  const settlements = inputs.map((input) => {
    const accounts = budgetKeys([input.source]).map((k) => k.account);
    const keys = accounts.map((account) => ({
      account,
      key: budgets.at(`${account} ${input.epochStart}`, { account, epoch: input.epochStart }),
    }));
    return {
      keys,
      payload: {
        request_id: input.requestId,
        consumer: input.consumer,
        model: input.model,
        source: input.source.kind,
        source_id: sourceId(input.source),
        accounts,
        epoch: input.epochStart,
        reserved: input.reserved,
        charged: input.charged,
        outcome: input.outcome,
        latency_ms: input.latencyMs,
        overhead_ms: input.overheadMs,
        provider: input.provider,
        completion_tokens: input.completionTokens ?? null,
        request_hash: input.requestHash ?? null,
        response_hash: input.responseHash ?? null,
        ...(input.record === undefined ? {} : { record: input.record }),
        ...(input.lease === undefined ? {} : { lease: { owner: input.lease.owner, minute: input.lease.minuteStart } }),
      },
    };
  });
  const { rows } = await sql<{ spent: number[] }>`select gateway_settle_batch(
      ${JSON.stringify(settlements.map((s) => s.payload))}::jsonb,
      ${budgets.values.map((b) => b.account)}::text[], ${budgets.values.map((b) => b.epoch)}::bigint[]) as spent`.execute(
    db,
  );
  const spent = rows[0]?.spent ?? [];
  return settlements.map((s) => ({ spent: new Map(s.keys.map(({ account, key }) => [account, Number(spent[key])])) }));
}

const spentMap = (accounts: string[], spent: (string | number)[]) =>
  new Map(accounts.map((account, i) => [account, Number(spent[i])]));

/**
 * A batch of one goes through the one-call gateway_admit: the same guard, at about half the cost of a
 * batch statement for a single call (a quiet replica sends every call alone).
 */
async function reserveOne(db: Kysely<Database>, input: ReserveInput): Promise<ReserveResult> {
  const sources = input.sources;
  const record = { ...input.record, source_ids: sources.map(sourceId) };
  const { rows } = await sql<{
    outcome: string;
    source_index: number | null;
    requests: string | null;
    accounts: string[];
    spent: string[];
  }>`
    select * from gateway_admit(
      ${input.consumer}, ${input.model}, ${input.minuteStart}, ${input.requestsPerMinute}, ${input.epochStart},
      ${input.amount}, ${sources.map((s) => s.account)}::text[], ${sources.map((s) => s.limit)}::bigint[],
      ${sources.map((s) => (s.kind === "pool" ? s.poolLimit : null))}::bigint[], ${JSON.stringify(record)}::jsonb,
      ${input.deferFlush})`.execute(db);
  const row = rows[0];
  const after = {
    spent: spentMap(row?.accounts ?? [], row?.spent ?? []),
    requestsThisMinute: Number(row?.requests ?? 0),
  };
  return reserveResult(sources, row?.outcome, row?.source_index, after);
}

/** A settlement alone: gateway_settle, the batch's function written out for one call. */
async function settleOne(db: Kysely<Database>, input: SettleInput): Promise<SpendingAfter> {
  const { rows } = await sql<{ accounts: string[]; spent: string[] }>`select * from gateway_settle(
      ${input.requestId}, ${input.record === undefined ? null : JSON.stringify(input.record)}::jsonb,
      ${input.lease?.owner ?? null}::text, ${input.lease?.minuteStart ?? null}::bigint, ${input.consumer},
      ${input.model}, ${input.source.kind}, ${sourceId(input.source)},
      ${budgetKeys([input.source]).map((k) => k.account)}::text[], ${input.epochStart}, ${input.reserved},
      ${input.charged}, ${input.outcome}, ${input.latencyMs},
      ${input.overheadMs}, ${input.provider ?? null}::text, ${input.completionTokens ?? null}::integer,
      ${input.requestHash ?? null}::text, ${input.responseHash ?? null}::text)`.execute(db);
  return { spent: spentMap(rows[0]?.accounts ?? [], rows[0]?.spent ?? []) };
}

/**
 * How long a ledger statement is sent again after its connection was lost: a settlement that has not
 * landed by then is given up (its call is answered with DATABASE_ERROR). Leases outlive a call by at
 * least this, so that a settlement never lands after its slice was reclaimed.
 */
export const LEDGER_RETRY_MS = 5_000;

/**
 * A failure that rolled back everything the statement did and may not happen again: a lost connection
 * (Postgres restarted, the backend was terminated, the network cut: pg's own errors carry no SQLSTATE),
 * or a deadlock (batches lock their rows in one order, but a one-call reservation takes a consumer's
 * grants in its spending order, which may differ; Postgres then aborts one of the two).
 */
export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string" || code.length !== 5) return true;
  return code === "40P01" || code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03";
}

/**
 * Runs a ledger statement again after a transient failure. A statement whose commit landed but whose
 * answer was lost is safe to send again: settlements settle each record once, and a reservation's
 * second attempt fails on its record's unique request id (its first attempt's record is then swept).
 */
function retryTransient<T>(run: () => Promise<T>): Promise<T> {
  return pRetry(run, {
    retries: 8,
    minTimeout: 5,
    maxTimeout: 1_000,
    maxRetryTime: LEDGER_RETRY_MS,
    shouldRetry: ({ error }) => isTransient(error),
  });
}

/**
 * Returns once every transaction committed before the call is on disk (gateway_flush: a synchronous
 * commit, and WAL is flushed in order), whichever connection committed it.
 */
export async function flushLedger(db: Kysely<Database>): Promise<void> {
  await retryTransient(() => sql`select gateway_flush()`.execute(db));
}

/**
 * Settles what no replica will (gateway_sweep): leases past their expiry give back what they hold, and
 * audit records PENDING for longer than `pendingAfterMs` are charged their worst case, marked SWEPT.
 */
export async function sweepLedger(
  db: Kysely<Database>,
  pendingAfterMs: number,
): Promise<{ leases: number; records: number }> {
  const { rows } = await sql<{ leases: number; records: number }>`
    select * from gateway_sweep(${pendingAfterMs})`.execute(db);
  return { leases: Number(rows[0]?.leases ?? 0), records: Number(rows[0]?.records ?? 0) };
}

export interface UsageRow {
  consumer: string;
  model: string;
  source: string;
  sourceId: string;
  epochStart: number;
  tokensUsed: number;
  requests: number;
}

/** The ledger of one consumer (optionally one model and one epoch), newest epoch first. */
export async function usageFor(
  db: Kysely<Database>,
  q: { consumer?: string; model?: string; epochStart?: number },
): Promise<UsageRow[]> {
  let query = db.selectFrom("gateway_usage").selectAll();
  if (q.consumer !== undefined) query = query.where("consumer", "=", q.consumer);
  if (q.model !== undefined) query = query.where("model_id", "=", q.model);
  if (q.epochStart !== undefined) query = query.where("epoch_start", "=", q.epochStart);
  const rows = await query.orderBy("epoch_start", "desc").orderBy("model_id").orderBy("source").execute();
  return rows.map((r) => ({
    consumer: r.consumer,
    model: r.model_id,
    source: r.source,
    sourceId: r.source_id,
    epochStart: r.epoch_start,
    tokensUsed: r.tokens_used,
    requests: r.requests,
  }));
}

/**
 * used / reserved / limit of budget accounts in one epoch (for policyStatus: budget used and left), and
 * `leased`: the part of `reserved` that replicas hold as slices, which the consumer's calls can still
 * spend (a replica gives its slices back before it refuses a call for budget).
 */
export async function budgetCounters(db: Kysely<Database>, q: { accounts: string[]; epochStart: number }) {
  if (q.accounts.length === 0) return [];
  return db
    .selectFrom("gateway_budget_counters as c")
    .select(["c.account", "c.budget_limit as limit", "c.used", "c.reserved"])
    .select((eb) =>
      eb
        .selectFrom("gateway_leases as l")
        .select(sql<number>`coalesce(sum(l.tokens), 0)::bigint`.as("leased"))
        .whereRef("l.account", "=", "c.account")
        .whereRef("l.epoch_start", "=", "c.epoch_start")
        .as("leased"),
    )
    .where("c.epoch_start", "=", q.epochStart)
    .where("c.account", "in", q.accounts)
    .execute();
}

/** Drops per-minute counters older than `beforeMinute` (they never count again). */
export async function pruneRateCounters(db: Kysely<Database>, beforeMinute: number): Promise<void> {
  await db.deleteFrom("gateway_rate_counters").where("minute_start", "<", beforeMinute).execute();
}
