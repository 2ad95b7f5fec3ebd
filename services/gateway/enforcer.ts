import { randomUUID } from "node:crypto";
import pRetry from "p-retry";
import type { ApiKeyOwner } from "../db/api-keys.ts";
import { type DecisionRecord, recordDecision } from "../db/gateway-decisions.ts";
import { allowanceAccount, POOL_TOTAL_ACCOUNT } from "../db/ledger/accounts.ts";
import {
  flushLedger,
  isTransient,
  LEDGER_RETRY_MS,
  type ReservationSource,
  type ReserveInput,
  readSpending,
  reserveCalls,
  type SettleInput,
  settleCalls,
  sourceId,
} from "../db/ledger/client.ts";
import { renewLeases, returnSlice, type SliceKey, takeSlice } from "../db/ledger/leases.ts";
import { decide, epochStartOf, minuteStartOf } from "../policy/decide.ts";
import { shadowDecisions } from "../policy/shadow.ts";
import type { Admitted, ConsumerUsage, Decision, DecisionRequest, ModelPolicy } from "../policy/types.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError, type ReasonCode } from "../shared/errors.ts";
import { createBatcher } from "./batcher.ts";
import { createFlushGroup } from "./flush-group.ts";
import type { KeyCache } from "./key-cache.ts";
import { createLeases, type LeaseTicket } from "./leases.ts";
import type { PolicyStore } from "./policy-store.ts";
import { createPoolStandings } from "./pool-standing.ts";
import { rateLimitHeaders, retryAfter } from "./rate-limit-headers.ts";
import { createSpendingHints } from "./spending-hints.ts";

/** Usage before anything is known: decisions refused with it are final (usage only adds refusals). */
const NO_USAGE: ConsumerUsage = { requestsThisMinute: 0, grantSpent: new Map(), poolSpent: 0, poolTotalSpent: 0 };

export interface CallInput {
  endpoint: "chat.completions" | "embeddings" | "responses";
  /** The caller, as authenticate() found it. */
  key: ApiKeyOwner;
  modelId: string;
  purpose: string | null;
  /** Every text field of the input, as normalizeContent (policy/content.ts) puts it. */
  content: string;
  /** Tokens billed whatever the completion (tokens.ts). */
  promptTokens: number;
  maxTokens: number | null;
  /** Completions asked for (OpenAI's `n`). */
  choices: number;
  /**
   * Nothing of the call is sent before settle() returns (a JSON answer, not a stream): the admission
   * is then flushed to disk while the upstream works, and settle() waits for that flush.
   */
  answeredAfterSettlement: boolean;
  /** Some provider serves the model (Upstream.serves): if none does, the call is refused MODEL_NOT_SERVED. */
  served: boolean;
}

export interface Admission {
  admitted: true;
  requestId: string;
  consumer: string;
  modelId: string;
  decision: Admitted;
  source: ReservationSource;
  /**
   * Admitted against this replica's slice of the grant (leases.ts, `ticket`): nothing was reserved for
   * the call alone, what it does not use goes back to the slice, and this audit record, not yet written,
   * is written with the settlement. Null when a reservation wrote the record.
   */
  leased: { record: DecisionRecord; ticket: LeaseTicket } | null;
  startedAt: number;
  /** Milliseconds the gateway spent before forwarding. */
  overheadMs: number;
  headers: Record<string, string>;
  /** Resolves once the admission and its audit record are on disk; settle() awaits it. */
  durable: Promise<void>;
}

export interface Refusal {
  admitted: false;
  requestId: string;
  reason: ReasonCode;
  message: string;
  headers: Record<string, string>;
}

export interface Settlement {
  /** What the upstream billed (its usage), charged in full even beyond the reservation. */
  charged: number;
  outcome: "COMPLETED" | "UPSTREAM_ERROR" | "CLIENT_CLOSED";
  /** Milliseconds spent waiting for the upstream (not the gateway's overhead). */
  upstreamMs: number;
  /** The provider that served the call (or the last one that failed it); null when none was tried. */
  provider: string | null;
  /** For the call's receipt: the completion's tokens as billed, sha256 of the raw request and of the answer sent. */
  completionTokens: number | null;
  requestHash: string | null;
  responseHash: string | null;
}

export interface Enforcer {
  /**
   * The live key of `Authorization: Bearer <key>`, or null. A refusal costs at most the key cache's
   * lookup: it is counted in a metric, never audited (a flood of random keys writes nothing).
   */
  authenticate(authorization: string | undefined): Promise<ApiKeyOwner | null>;
  /** Decides and, when admitted, reserves the worst case; the audit record is written either way. */
  admit(input: CallInput): Promise<Admission | Refusal>;
  /**
   * Charges the real usage (0 releases), even beyond the reservation (an overdraft: counted, logged, and
   * the account has that much less room), and completes the audit record; returns the overhead headers.
   * When it returns, the call's admission and audit record are on disk: the call may be answered.
   */
  settle(admission: Admission, settlement: Settlement): Promise<Record<string, string>>;
  /** Gives this replica's unused budget slices back to Postgres. */
  close(): Promise<void>;
}

function bearer(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const [scheme, token] = authorization.split(" ", 2);
  return scheme?.toLowerCase() === "bearer" && token ? token.trim() : null;
}

function policyHeaders(model: ModelPolicy | null, requestId: string): Record<string, string> {
  // The request id is the call's receipt id (services/receipts): `receipt(requestId)` once it is settled.
  const headers: Record<string, string> = { "x-request-id": requestId, "x-commons-receipt": requestId };
  if (model) {
    headers["x-commons-policy-version"] = String(model.version);
    if (model.provenance.proposalId !== null) headers["x-commons-proposal-id"] = model.provenance.proposalId;
  }
  return headers;
}

/** Database faults enter our code here: no call is admitted or answered without its record. */
function ledger<T>(query: Promise<T>): Promise<T> {
  return query.catch((cause: unknown) => {
    throw new AppError("DATABASE_ERROR", "the ledger is unavailable; the call was not served", { cause });
  });
}

/**
 * Ledger batches: two may run at once, so a quiet replica sends each call alone and at once; beyond
 * that, calls queue for the next batch. Measured (bench/gateway.bench.ts, 2 cores): two in flight keep
 * the moderate-load latency of one-call statements and raise saturation throughput by half; one in
 * flight raises it further (x1.9) but adds about 0.6 ms at moderate load.
 */
export const LEDGER_BATCHING = { maxBatch: 64, maxInFlight: 2 };

/**
 * How long Postgres keeps a replica's slices after its last renewal: the replica uses them for
 * LEASE_TTL_MS, and a call admitted on one by then is answered and settled within the upstream's
 * timeout and the ledger's retries. Only then may the sweeper reclaim them.
 */
export function leaseExpiresInMs(config: Pick<Deps["config"], "LEASE_TTL_MS" | "UPSTREAM_TIMEOUT_MS">): number {
  return config.LEASE_TTL_MS + config.UPSTREAM_TIMEOUT_MS + LEDGER_RETRY_MS;
}

const elapsed = (since: number) => Math.round((performance.now() - since) * 1000) / 1000;

/**
 * A model the policies approve but no provider of this gateway serves: refused MODEL_NOT_SERVED once the
 * request's own rules pass, before anything is counted or reserved (it is the operator's configuration,
 * not a policy: decide() knows nothing of providers).
 */
function servedOrRefused(decision: Decision, served: boolean): Decision {
  if (!decision.admitted || served) return decision;
  const message = `no provider of this gateway serves model ${decision.model.modelId}; its operator has not configured one`;
  return { admitted: false, reason: "MODEL_NOT_SERVED", message, model: decision.model };
}

/** Load, decide, act: the gateway's enforcement of one call, shared by every endpoint. */
export function createEnforcer(
  deps: Pick<Deps, "config" | "database" | "logger" | "metrics" | "now">,
  store: PolicyStore,
  keys: KeyCache,
): Enforcer {
  const { db } = deps.database;
  const { metrics } = deps;
  const hints = createSpendingHints();
  const standings = createPoolStandings(db);
  const flushes = createFlushGroup(() => flushLedger(db));
  // Calls in flight together share their ledger round trips (see batcher.ts and services/db/ledger/).
  const reservations = createBatcher((inputs: ReserveInput[]) => reserveCalls(db, inputs), LEDGER_BATCHING);
  const settlements = createBatcher((inputs: SettleInput[]) => settleCalls(db, inputs), LEDGER_BATCHING);
  const leases = createLeases({
    replica: randomUUID(),
    take: (owner, key, size) => takeSlice(db, { owner, expiresInMs: leaseExpiresInMs(deps.config) }, key, size),
    give: (owner, key, unused) => returnSlice(db, owner, key, unused),
    renew: (owner) => renewLeases(db, { owner, expiresInMs: leaseExpiresInMs(deps.config) }),
    onError: (error, what) => deps.logger.warn({ err: error }, what),
    ttlMs: deps.config.LEASE_TTL_MS,
  });

  // A call admitted on a slice whose settlement failed (the database was gone for longer than the
  // ledger's retries) is answered with DATABASE_ERROR, but the upstream may have billed it, and its audit
  // record is written only by its settlement: that is kept trying until it lands or the replica closes.
  const closing = new AbortController();
  const unsettled = new Set<Promise<unknown>>();
  const keepSettling = (input: SettleInput) => {
    const settling = pRetry(() => settleCalls(db, [input]), {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 100,
      maxTimeout: 5_000,
      signal: closing.signal,
      shouldRetry: ({ error }) => isTransient(error),
    })
      .catch((error: unknown) =>
        deps.logger.error(
          { err: error, auditId: input.requestId },
          "a settlement was given up: its call has no record",
        ),
      )
      .finally(() => unsettled.delete(settling));
    unsettled.add(settling);
  };

  const authenticate = async (authorization: string | undefined) => {
    const key = bearer(authorization);
    const owner = key === null ? null : await ledger(keys.find(key));
    if (owner !== null && !owner.revoked) return owner;
    metrics.unauthenticated.inc({ reason: key === null ? "missing" : owner === null ? "unknown" : "revoked" });
    return null;
  };
  /** The label a model id gets in metrics: caller-chosen ids that no policy names are `other`. */
  const modelLabel = (modelId: string) => (store.current().models.has(modelId) ? modelId : "other");

  /** The consumer's usage as Postgres has it now (one query); it also refreshes this replica's hint. */
  const readUsage = async (consumer: string, modelId: string, now: number): Promise<ConsumerUsage> => {
    const snapshot = store.current();
    const pool = allowanceAccount(consumer);
    const grants = snapshot.grantsByConsumer.get(consumer) ?? [];
    const epochStart = epochStartOf(snapshot, now);
    const minuteStart = minuteStartOf(now);
    const spending = await ledger(
      readSpending(db, {
        accounts: [...grants.map((g) => g.account), pool, POOL_TOTAL_ACCOUNT],
        epochStart,
        consumer,
        model: modelId,
        minuteStart,
      }),
    );
    const usage = {
      requestsThisMinute: spending.requestsThisMinute,
      grantSpent: spending.spent,
      poolSpent: spending.spent.get(pool) ?? 0,
      poolTotalSpent: spending.spent.get(POOL_TOTAL_ACCOUNT) ?? 0,
    };
    hints.replace(consumer, modelId, minuteStart, epochStart, usage);
    return usage;
  };

  /**
   * decide() on this replica's spending hint when it has a fresh one (no round trip), else on a read.
   * A refusal is only ever made on a read: a hint may lag behind another replica's release. Nor is it
   * made while this replica holds slices of the consumer's budgets: the call may need what is left in
   * them together with what is left in Postgres, so they go back first and the usage is read again.
   */
  const decideWithUsage = async (
    request: DecisionRequest & { consumer: string },
    now: number,
  ): Promise<{ decision: Decision; usage: ConsumerUsage }> => {
    const snapshot = store.current();
    const minuteStart = minuteStartOf(now);
    const epochStart = epochStartOf(snapshot, now);
    const hint = hints.get(request.consumer, request.modelId, minuteStart, epochStart);
    const decision = hint === null ? null : decide(snapshot, request, hint, now);
    if (decision?.admitted && hint !== null) return { decision, usage: hint };
    let usage = await readUsage(request.consumer, request.modelId, now);
    const read = decide(snapshot, request, usage, now);
    if (read.admitted || (read.reason !== "BUDGET_EXHAUSTED" && read.reason !== "RATE_LIMITED")) {
      return { decision: read, usage };
    }
    const grants = (snapshot.grantsByConsumer.get(request.consumer) ?? []).map((g) => g.account);
    const key = { consumer: request.consumer, model: request.modelId, minuteStart, epochStart };
    if (!(await leases.surrender(key, grants))) return { decision: read, usage };
    usage = await readUsage(request.consumer, request.modelId, now);
    return { decision: decide(snapshot, request, usage, now), usage };
  };

  /**
   * decide() against this replica's slices, when the call can be admitted without a round trip: a JSON
   * call (its answer waits for its audit record anyway), a fresh hint (the spending of other replicas,
   * at most 1 s old), and the first budget in spending order is a grant of which this replica holds
   * room. The hint counts this replica's unused slices as spent; they are added back here.
   */
  const decideOnSlice = (
    request: DecisionRequest & { consumer: string },
    requestOnly: Admitted,
    now: number,
  ): { decision: Admitted; ticket: LeaseTicket; usage: ConsumerUsage } | null => {
    const first = requestOnly.sources[0];
    if (first?.kind !== "grant") return null;
    const hint = hints.get(request.consumer, request.modelId, requestOnly.minuteStart, requestOnly.epochStart);
    if (hint === null) return null;
    const key: SliceKey = {
      consumer: request.consumer,
      model: request.modelId,
      minuteStart: requestOnly.minuteStart,
      requestsPerMinute: requestOnly.model.requestsPerMinute,
      account: first.account,
      epochStart: requestOnly.epochStart,
      limit: first.limit,
    };
    const held = leases.held(key);
    const grantSpent = new Map(hint.grantSpent);
    grantSpent.set(first.account, Math.max(0, (grantSpent.get(first.account) ?? 0) - held.tokens));
    const requestsThisMinute = Math.max(0, hint.requestsThisMinute - held.requests);
    const usage = { ...hint, grantSpent, requestsThisMinute };
    const decision = decide(store.current(), request, usage, now);
    if (!decision.admitted || decision.sources[0]?.account !== first.account) return null;
    const ticket = leases.take(key, decision.reserve);
    return ticket === null ? null : { decision, ticket, usage };
  };

  return {
    authenticate,
    async admit(input) {
      const startedAt = performance.now();
      const requestId = `req_${randomUUID().replaceAll("-", "")}`;
      const key = input.key;
      const consumer = key.address;
      const snapshot = store.current();
      const now = deps.now();
      const request: DecisionRequest = {
        consumer,
        modelId: input.modelId,
        purpose: input.purpose,
        content: input.content,
        promptTokens: input.promptTokens,
        maxTokens: input.maxTokens,
        choices: input.choices,
        poolStanding: await ledger(standings.get(consumer, snapshot, now)),
      };
      // Request-only rules first; its sources are every budget big enough for the call, in order.
      const requestOnly = servedOrRefused(decide(snapshot, request, NO_USAGE, now), input.served);
      const onSlice =
        requestOnly.admitted && input.answeredAfterSettlement
          ? decideOnSlice({ ...request, consumer }, requestOnly, now)
          : null;
      const decided = onSlice ?? (requestOnly.admitted ? await decideWithUsage({ ...request, consumer }, now) : null);
      const decision = decided?.decision ?? requestOnly;
      const model = decision.model;
      // Shadow mode: the same call under each queued proposal's policies, with the usage the live decision
      // read (a call refused live before any usage was read is judged on this replica's hint, or on none).
      const shadows = store.shadows();
      const shadowUsage =
        shadows.length === 0
          ? NO_USAGE
          : (decided?.usage ??
            hints.get(consumer, input.modelId, minuteStartOf(now), epochStartOf(snapshot, now)) ??
            NO_USAGE);
      const shadow = shadowDecisions(
        shadows,
        (policies) => servedOrRefused(decide(policies, request, shadowUsage, now), input.served),
        (error, proposalId) => {
          metrics.shadowFailures.inc();
          deps.logger.warn({ err: error, proposalId }, "a shadow decision failed; the live decision stands");
        },
      );
      const record = {
        request_id: requestId,
        consumer,
        api_key_id: key.id,
        endpoint: input.endpoint,
        model_id: input.modelId,
        purpose: input.purpose,
        policy_version: model?.version ?? null,
        proposal_id: model?.provenance.proposalId ?? null,
        // What a replay needs to decide this call again (migrations/0016).
        prompt_tokens: input.promptTokens,
        max_tokens: input.maxTokens,
        choices: input.choices,
        decided_at: new Date(now),
        pool_epoch_start: request.poolStanding?.epochStart ?? null,
        pool_votes: request.poolStanding?.votes.toString() ?? null,
        shadow,
      };
      /** x-ratelimit-* from this replica's hint of the requests this minute (this call's included). */
      const limits = (tokensRemaining: number | null, requestsUsedUp = false) => {
        if (!model) return {};
        const hint = hints.get(consumer, input.modelId, minuteStartOf(now), epochStartOf(snapshot, now));
        const requests = requestsUsedUp ? model.requestsPerMinute : (hint?.requestsThisMinute ?? 0);
        const standing = request.poolStanding;
        return rateLimitHeaders({ snapshot, consumer, model, standing, nowMs: now, requests, tokensRemaining });
      };
      const refusal = (reason: ReasonCode, message: string): Refusal => {
        metrics.decisions.inc({ decision: "refused", reason, model: modelLabel(input.modelId) });
        const headers = policyHeaders(model, requestId);
        // A rate-limited call was not weighed against the budgets; an exhausted budget has no room for it.
        if (reason === "RATE_LIMITED") Object.assign(headers, limits(null, true), retryAfter(now));
        if (reason === "BUDGET_EXHAUSTED") Object.assign(headers, limits(0));
        return { admitted: false, requestId, reason, message, headers };
      };

      if (!decision.admitted) {
        await ledger(
          recordDecision(db, {
            ...record,
            admitted: false,
            reason_code: decision.reason,
            outcome: "REFUSED",
            overhead_ms: elapsed(startedAt),
            latency_ms: elapsed(startedAt),
          }),
        );
        metrics.ledgerWrites.inc({ kind: "refusal" });
        return refusal(decision.reason, decision.message);
      }
      const admittedDecision = decision;
      const admitted = (source: ReservationSource, leased: Admission["leased"], durable: Promise<void>): Admission => {
        durable.catch(() => {});
        metrics.decisions.inc({ decision: "admitted", reason: "", model: modelLabel(input.modelId) });
        const overheadMs = elapsed(startedAt);
        const remaining = Math.max(0, admittedDecision.remaining - admittedDecision.reserve);
        const headers = { ...policyHeaders(model, requestId), ...limits(remaining) };
        headers["x-commons-budget-remaining"] = String(remaining);
        headers["x-commons-overhead-ms"] = String(overheadMs);
        return {
          admitted: true,
          requestId,
          consumer,
          modelId: input.modelId,
          decision: admittedDecision,
          source,
          leased,
          startedAt,
          overheadMs,
          headers,
          durable,
        };
      };
      const pending: DecisionRecord = {
        ...record,
        admitted: true,
        reason_code: null,
        epoch_start: admittedDecision.epochStart,
        tokens_reserved: admittedDecision.reserve,
        outcome: "PENDING",
      };
      if (onSlice !== null) {
        const source = onSlice.decision.sources[0] as ReservationSource;
        // Nothing is written before the upstream is called: settle() writes this record with the charge,
        // synchronously, before the call is answered (a crash before then loses a call nobody got).
        const record = {
          ...pending,
          source: source.kind,
          source_id: sourceId(source),
          // The database's clock, as for every other record (not deps.now, which tests may move).
          created_at: new Date(),
        };
        return admitted(source, { record, ticket: onSlice.ticket }, Promise.resolve());
      }
      const reserved = await ledger(
        reservations.submit({
          consumer,
          model: input.modelId,
          requestsPerMinute: admittedDecision.model.requestsPerMinute,
          minuteStart: admittedDecision.minuteStart,
          epochStart: admittedDecision.epochStart,
          amount: admittedDecision.reserve,
          // The guard, not the hint, decides which budget has room: it tries every one that could.
          sources: requestOnly.admitted ? requestOnly.sources : admittedDecision.sources,
          deferFlush: input.answeredAfterSettlement,
          record: pending,
        }),
      );
      metrics.ledgerWrites.inc({ kind: "reserve" });
      hints.update(consumer, input.modelId, admittedDecision.epochStart, reserved);
      if (!reserved.ok) {
        return refusal(
          reserved.reason,
          reserved.reason === "RATE_LIMITED"
            ? `more than ${admittedDecision.model.requestsPerMinute} requests per minute on ${input.modelId}`
            : `no budget has ${admittedDecision.reserve} tokens left for this call this epoch`,
        );
      }
      // Started now, so that the disk works while the upstream does; awaited (by settle) before answering.
      return admitted(reserved.source, null, input.answeredAfterSettlement ? flushes.durable() : Promise.resolve());
    },

    async settle(admission, settlement) {
      const settleStarted = performance.now();
      const { reserve, epochStart } = admission.decision;
      const charged = settlement.charged;
      const overdraft = Math.max(0, charged - reserve);
      // A leased call's worst case stays in the slice: its charge leaves the reservation, and so does what
      // the slice can spare of an overdraft (it must not go below zero); the rest only adds to `used`.
      const fromReservation = admission.leased
        ? Math.min(charged, reserve) + leases.takeUpTo(admission.leased.ticket, overdraft)
        : reserve;
      if (overdraft > 0) {
        metrics.overdraftTokens.inc({ model: admission.modelId }, overdraft);
        deps.logger.warn(
          { auditId: admission.requestId, model: admission.modelId, reserved: reserve, charged },
          "the upstream billed more than was reserved; the call is charged what it billed",
        );
      }
      const latencyMs = elapsed(admission.startedAt);
      const input: SettleInput = {
        requestId: admission.requestId,
        consumer: admission.consumer,
        model: admission.modelId,
        epochStart,
        source: admission.source,
        reserved: fromReservation,
        charged,
        outcome: settlement.outcome,
        latencyMs,
        overheadMs: Math.max(0, latencyMs - settlement.upstreamMs),
        provider: settlement.provider,
        completionTokens: settlement.completionTokens,
        requestHash: settlement.requestHash,
        responseHash: settlement.responseHash,
        ...(admission.leased
          ? {
              record: admission.leased.record,
              lease: { owner: admission.leased.ticket.owner, minuteStart: admission.leased.ticket.key.minuteStart },
            }
          : {}),
      };
      const settled = settlements.submit(input);
      // No call is answered whose record could be lost: a leased call's record commits with its
      // settlement; a reserved call's was written by the reservation, flushed by `durable`.
      const [after] = await ledger(Promise.all([settled, admission.durable])).catch((error: unknown) => {
        if (admission.leased) {
          leases.finish(admission.leased.ticket, null);
          keepSettling(input);
        }
        throw error;
      });
      if (admission.leased) leases.finish(admission.leased.ticket, Math.min(charged, reserve));
      metrics.ledgerWrites.inc({ kind: charged === 0 ? "release" : "settle" });
      hints.update(admission.consumer, admission.modelId, epochStart, after);
      const overheadMs = admission.overheadMs + elapsed(settleStarted);
      metrics.gatewayOverhead.observe(overheadMs / 1000);
      return {
        "x-commons-budget-remaining": String(Math.max(0, admission.decision.remaining - charged)),
        "x-commons-overhead-ms": String(Math.round(overheadMs * 1000) / 1000),
      };
    },

    async close() {
      closing.abort();
      await Promise.all(unsettled);
      await leases.close();
    },
  };
}
