import { randomUUID } from "node:crypto";
import type { ApiKeyOwner } from "../db/api-keys.ts";
import { recordDecision } from "../db/gateway-decisions.ts";
import { POOL_TOTAL_ACCOUNT, type ReservationSource, readSpending, reserveCall, settleCall } from "../db/ledger.ts";
import { decide, epochStartOf, minuteStartOf } from "../policy/decide.ts";
import type { Admitted, ConsumerUsage, DecisionRequest, ModelPolicy } from "../policy/types.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError, type ReasonCode } from "../shared/errors.ts";
import type { KeyCache } from "./key-cache.ts";
import type { PolicyStore } from "./policy-store.ts";

/** Usage before anything is known: decisions refused with it are final (usage only adds refusals). */
const NO_USAGE: ConsumerUsage = { requestsThisMinute: 0, grantSpent: new Map(), poolSpent: 0, poolTotalSpent: 0 };

export interface CallInput {
  endpoint: "chat.completions" | "embeddings";
  authorization: string | undefined;
  modelId: string;
  purpose: string | null;
  /** Lowercased input text for the content rules. */
  content: string;
  promptTokens: number;
  maxTokens: number | null;
}

export interface Admission {
  admitted: true;
  requestId: string;
  consumer: string;
  modelId: string;
  decision: Admitted;
  source: ReservationSource;
  startedAt: number;
  /** Milliseconds the gateway spent before forwarding. */
  overheadMs: number;
  headers: Record<string, string>;
}

export interface Refusal {
  admitted: false;
  requestId: string;
  reason: ReasonCode;
  message: string;
  headers: Record<string, string>;
}

export interface Settlement {
  charged: number;
  outcome: "COMPLETED" | "UPSTREAM_ERROR" | "CLIENT_CLOSED";
  /** Milliseconds spent waiting for the upstream (not the gateway's overhead). */
  upstreamMs: number;
}

export interface Enforcer {
  authenticate(authorization: string | undefined): Promise<ApiKeyOwner | null>;
  /** Decides and, when admitted, reserves the worst case; the audit record is written either way. */
  admit(input: CallInput): Promise<Admission | Refusal>;
  /** Charges the real usage (0 releases) and completes the audit record; returns the overhead headers. */
  settle(admission: Admission, settlement: Settlement): Promise<Record<string, string>>;
}

function bearer(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const [scheme, token] = authorization.split(" ", 2);
  return scheme?.toLowerCase() === "bearer" && token ? token.trim() : null;
}

function policyHeaders(model: ModelPolicy | null, requestId: string): Record<string, string> {
  const headers: Record<string, string> = { "x-request-id": requestId };
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

const elapsed = (since: number) => Math.round((performance.now() - since) * 1000) / 1000;

/** Load, decide, act: the gateway's enforcement of one call, shared by every endpoint. */
export function createEnforcer(
  deps: Pick<Deps, "database" | "metrics" | "now">,
  store: PolicyStore,
  keys: KeyCache,
): Enforcer {
  const { db } = deps.database;
  const { metrics } = deps;

  const authenticate = async (authorization: string | undefined) => {
    const key = bearer(authorization);
    return key === null ? null : ledger(keys.find(key));
  };

  const usageOf = async (consumer: string, modelId: string, now: number): Promise<ConsumerUsage> => {
    const snapshot = store.current();
    const pool = `pool:${consumer}`;
    const grants = snapshot.grantsByConsumer.get(consumer) ?? [];
    const spending = await ledger(
      readSpending(db, {
        accounts: [...grants.map((g) => g.account), pool, POOL_TOTAL_ACCOUNT],
        epochStart: epochStartOf(snapshot, now),
        consumer,
        model: modelId,
        minuteStart: minuteStartOf(now),
      }),
    );
    return {
      requestsThisMinute: spending.requestsThisMinute,
      grantSpent: spending.spent,
      poolSpent: spending.spent.get(pool) ?? 0,
      poolTotalSpent: spending.spent.get(POOL_TOTAL_ACCOUNT) ?? 0,
    };
  };

  return {
    authenticate,
    async admit(input) {
      const startedAt = performance.now();
      const requestId = `req_${randomUUID().replaceAll("-", "")}`;
      const key = await authenticate(input.authorization);
      const consumer = key && !key.revoked ? key.address : null;
      const request: DecisionRequest = {
        consumer,
        modelId: input.modelId,
        purpose: input.purpose,
        content: input.content,
        promptTokens: input.promptTokens,
        maxTokens: input.maxTokens,
      };
      const snapshot = store.current();
      const now = deps.now();
      let decision = decide(snapshot, request, NO_USAGE, now);
      if (decision.admitted && consumer !== null) {
        decision = decide(snapshot, request, await usageOf(consumer, input.modelId, now), now);
      }
      const model = decision.model;
      const record = {
        request_id: requestId,
        consumer,
        api_key_id: key?.id ?? null,
        endpoint: input.endpoint,
        model_id: input.modelId,
        purpose: input.purpose,
        policy_version: model?.version ?? null,
        proposal_id: model?.provenance.proposalId ?? null,
      };
      const refusal = (reason: ReasonCode, message: string): Refusal => {
        metrics.decisions.inc({ decision: "refused", reason, model: input.modelId });
        return { admitted: false, requestId, reason, message, headers: policyHeaders(model, requestId) };
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
      const reserved = await ledger(
        reserveCall(db, {
          consumer: consumer as string,
          model: input.modelId,
          requestsPerMinute: admittedDecision.model.requestsPerMinute,
          minuteStart: admittedDecision.minuteStart,
          epochStart: admittedDecision.epochStart,
          amount: admittedDecision.reserve,
          sources: admittedDecision.sources,
          record: {
            ...record,
            admitted: true,
            reason_code: null,
            epoch_start: admittedDecision.epochStart,
            tokens_reserved: admittedDecision.reserve,
            outcome: "PENDING",
          },
        }),
      );
      metrics.ledgerWrites.inc({ kind: "reserve" });
      if (!reserved.ok) {
        return refusal(
          reserved.reason,
          reserved.reason === "RATE_LIMITED"
            ? `more than ${admittedDecision.model.requestsPerMinute} requests per minute on ${input.modelId}`
            : `no budget has ${admittedDecision.reserve} tokens left for this call this epoch`,
        );
      }
      metrics.decisions.inc({ decision: "admitted", reason: "", model: input.modelId });
      const overheadMs = elapsed(startedAt);
      const headers = policyHeaders(model, requestId);
      headers["x-commons-budget-remaining"] = String(
        Math.max(0, admittedDecision.remaining - admittedDecision.reserve),
      );
      headers["x-commons-overhead-ms"] = String(overheadMs);
      return {
        admitted: true,
        requestId,
        consumer: consumer as string,
        modelId: input.modelId,
        decision: admittedDecision,
        source: reserved.source,
        startedAt,
        overheadMs,
        headers,
      };
    },

    async settle(admission, settlement) {
      const settleStarted = performance.now();
      const charged = Math.min(settlement.charged, admission.decision.reserve);
      const latencyMs = elapsed(admission.startedAt);
      await ledger(
        settleCall(db, {
          requestId: admission.requestId,
          consumer: admission.consumer,
          model: admission.modelId,
          epochStart: admission.decision.epochStart,
          source: admission.source,
          reserved: admission.decision.reserve,
          charged,
          outcome: settlement.outcome,
          latencyMs,
          overheadMs: Math.max(0, latencyMs - settlement.upstreamMs),
        }),
      );
      metrics.ledgerWrites.inc({ kind: charged === 0 ? "release" : "settle" });
      const overheadMs = admission.overheadMs + elapsed(settleStarted);
      metrics.gatewayOverhead.observe(overheadMs / 1000);
      return {
        "x-commons-budget-remaining": String(Math.max(0, admission.decision.remaining - charged)),
        "x-commons-overhead-ms": String(Math.round(overheadMs * 1000) / 1000),
      };
    },
  };
}
