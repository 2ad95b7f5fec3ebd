import type { AuditWindowRow } from "../db/audit-window.ts";
import type { ReasonCode } from "../shared/errors.ts";
import { checkOrder, decide, epochStartOf, minuteStartOf } from "./decide.ts";
import type { Decision, ModelPolicy, PolicySnapshot, PoolStanding } from "./types.ts";

/**
 * Decides audited calls again, with the one decide(), under two sets of policies: those in force
 * (`before`) and those a proposal would put in force (`after`). Each side keeps its own spending, as
 * the gateway's ledger would have: per-minute requests, and tokens per budget per epoch, counted from
 * the first call replayed. Pure: the caller streams the records in time order.
 */

/** One audit record, as a replay reads it (in time order). */
export type AuditedCall = Omit<AuditWindowRow, "id">;

/** Why a call could not be decided again. */
export type NotEvaluableReason = "NOT_RECORDED" | "CONTENT_RULES" | "POOL_STANDING";

export const notEvaluableExplanations: Record<NotEvaluableReason, string> = {
  NOT_RECORDED: "recorded before the audit kept the prompt estimate and max_tokens (migration 0016)",
  CONTENT_RULES:
    "the outcome depends on blocked content terms, and the audit does not keep what calls said; calls are " +
    "only replayed under content rules when the rules in force decided them and the new terms are a subset " +
    "(for calls that passed) or a superset (for calls that were blocked) of those",
  POOL_STANDING:
    "only the community pool could have served the call, and the pool asks a minimum voting power the audit " +
    "did not record for this consumer and epoch (the gateway loads it only while the pool has a minimum)",
};

/** The outcome of a call: ADMITTED or the reason code it was refused with. */
export type Outcome = "ADMITTED" | ReasonCode;

export interface Transition {
  from: Outcome;
  to: Outcome;
  calls: number;
  consumers: Set<string>;
}

export interface ConsumerChange {
  newlyRefused: number;
  newlyAdmitted: number;
}

export interface BudgetTokens {
  before: number;
  after: number;
}

export interface ReplayResult {
  calls: number;
  evaluated: number;
  notEvaluable: Map<NotEvaluableReason, number>;
  /** Outcomes of the evaluated calls under the policies in force, and after the proposal. */
  before: Map<Outcome, number>;
  after: Map<Outcome, number>;
  /** Calls whose outcome differs, by (before, after). */
  transitions: Map<string, Transition>;
  consumers: Map<string, ConsumerChange>;
  /** Tokens charged per budget (`grant:<id>`, or `pool` for the whole community pool). */
  budgets: Map<string, BudgetTokens>;
  /** Calls admitted on a side where they had been refused: charged their reservation (their answer is unknown). */
  estimatedCharges: number;
}

/** What one side has spent: in the current epoch (per account) and the current minute (per consumer and model). */
class Ledger {
  epoch = Number.NaN;
  minute = Number.NaN;
  readonly spent = new Map<string, number>();
  poolTotal = 0;
  readonly requests = new Map<string, number>();
  readonly usage = { requestsThisMinute: 0, grantSpent: this.spent, poolSpent: 0, poolTotalSpent: 0 };

  /** Moves to the call's epoch and minute (records come in time order: a later one starts afresh). */
  at(epoch: number, minute: number): void {
    if (epoch > this.epoch || Number.isNaN(this.epoch)) {
      this.epoch = epoch;
      this.spent.clear();
      this.poolTotal = 0;
    }
    if (minute > this.minute || Number.isNaN(this.minute)) {
      this.minute = minute;
      this.requests.clear();
    }
  }
}

const PASSED_CONTENT = new Set<string | null>(checkOrder.slice(checkOrder.indexOf("CONTENT_BLOCKED") + 1));
PASSED_CONTENT.add(null);
PASSED_CONTENT.add("UPSTREAM_ERROR");

function passedContentCheck(decision: Decision): boolean {
  return decision.admitted || PASSED_CONTENT.has(decision.reason);
}

function isSubset(terms: readonly string[], of: readonly string[]): boolean {
  return terms.every((t) => of.includes(t));
}

export interface Replay {
  /** Keeps nothing of `call` but its strings: the caller may read the next record into the same object. */
  add(call: AuditedCall): void;
  result(): ReplayResult;
}

export function createReplay(inForce: PolicySnapshot, proposed: PolicySnapshot): Replay {
  // The past is replayed on the policies given, however old the index's heartbeat is now.
  const replayable = (s: PolicySnapshot) => ({ ...s, settings: { ...s.settings, allowStale: true } });
  const before = replayable(inForce);
  const after = replayable(proposed);
  const sides = [
    { snapshot: before, ledger: new Ledger() },
    { snapshot: after, ledger: new Ledger() },
  ] as const;
  const result: ReplayResult = {
    calls: 0,
    evaluated: 0,
    notEvaluable: new Map(),
    before: new Map(),
    after: new Map(),
    transitions: new Map(),
    consumers: new Map(),
    budgets: new Map(),
    estimatedCharges: 0,
  };
  // How a side's blocked terms relate to those in force, per model policy object (computed once each).
  const termRelation = new Map<ModelPolicy, { subset: boolean; superset: boolean }>();
  const relation = (model: ModelPolicy, then: ModelPolicy) => {
    let r = termRelation.get(model);
    if (r === undefined) {
      r = {
        subset: isSubset(model.blockedTermForms, then.blockedTermForms),
        superset: isSubset(then.blockedTermForms, model.blockedTermForms),
      };
      termRelation.set(model, r);
    }
    return r;
  };
  // Keys built once per consumer and model, then reused: a replay reads millions of records of a few
  // thousand consumers, and a key built per record costs more than deciding it.
  const keysOf = new Map<string, { pool: string; rate: Map<string, string> }>();
  const keys = { rate: "", pool: "" };
  const setKeys = (consumer: string | null, modelId: string) => {
    if (consumer === null) {
      keys.rate = "";
      keys.pool = "";
      return;
    }
    let k = keysOf.get(consumer);
    if (k === undefined) {
      k = { pool: `pool:${consumer}`, rate: new Map() };
      keysOf.set(consumer, k);
    }
    let rate = k.rate.get(modelId);
    if (rate === undefined) {
      rate = `${consumer} ${modelId}`;
      k.rate.set(modelId, rate);
    }
    keys.rate = rate;
    keys.pool = k.pool;
  };
  const request = {
    consumer: null as string | null,
    modelId: "",
    purpose: null as string | null,
    content: "",
    promptTokens: 0,
    maxTokens: null as number | null,
    choices: 1,
    poolStanding: null as PoolStanding | null,
  };

  /**
   * The input text to decide with on a side: "" when content cannot matter or is known to pass, a term
   * known to be in it when it is known to be blocked, null when the outcome may depend on it.
   */
  const contentFor = (call: AuditedCall, model: ModelPolicy | undefined): string | null => {
    if (model === undefined || model.blockedTermForms.length === 0) return "";
    const then = before.models.get(call.modelId);
    if (then === undefined || call.policyVersion !== then.version) return null;
    const r = relation(model, then);
    if (call.reasonCode === "CONTENT_BLOCKED") return r.superset ? (then.blockedTermForms[0] as string) : null;
    return call.admitted || PASSED_CONTENT.has(call.reasonCode) ? (r.subset ? "" : null) : null;
  };

  /** The decision on a side, or why it cannot be known. */
  const decideOn = (side: (typeof sides)[number], call: AuditedCall): Decision | NotEvaluableReason => {
    const { snapshot, ledger } = side;
    const content = contentFor(call, snapshot.models.get(call.modelId));
    request.content = content ?? "";
    ledger.at(epochStartOf(snapshot, call.decidedAtMs), minuteStartOf(call.decidedAtMs));
    const usage = ledger.usage;
    usage.requestsThisMinute = ledger.requests.get(keys.rate) ?? 0;
    usage.poolSpent = call.consumer === null ? 0 : (ledger.spent.get(keys.pool) ?? 0);
    usage.poolTotalSpent = ledger.poolTotal;
    const decision = decide(snapshot, request, usage, call.decidedAtMs);
    if (content === null && passedContentCheck(decision)) return "CONTENT_RULES";
    // Without the consumer's voting power the pool was no source: a refusal for budget may be wrong.
    const poolUnknown = request.poolStanding === null && snapshot.pool.minVotes > 0n && call.consumer !== null;
    if (poolUnknown && !decision.admitted && decision.reason === "BUDGET_EXHAUSTED") return "POOL_STANDING";
    return decision;
  };

  /** Charges an admitted call on its side, as the gateway's guard and settlement would. */
  const charge = (side: (typeof sides)[number], call: AuditedCall, decision: Decision, budget: "before" | "after") => {
    if (!decision.admitted) return;
    const { ledger } = side;
    ledger.requests.set(keys.rate, (ledger.requests.get(keys.rate) ?? 0) + 1);
    let tokens = decision.reserve;
    if (call.admitted) tokens = Math.min(call.tokensUsed, decision.reserve);
    else result.estimatedCharges++;
    const source = decision.sources[0];
    if (source === undefined) return;
    ledger.spent.set(source.account, (ledger.spent.get(source.account) ?? 0) + tokens);
    let account = source.account;
    if (source.kind === "pool") {
      ledger.poolTotal += tokens;
      account = "pool";
    }
    let b = result.budgets.get(account);
    if (b === undefined) {
      b = { before: 0, after: 0 };
      result.budgets.set(account, b);
    }
    b[budget] += tokens;
  };

  const count = (map: Map<Outcome, number>, outcome: Outcome) => map.set(outcome, (map.get(outcome) ?? 0) + 1);
  const outcomeOf = (d: Decision): Outcome => (d.admitted ? "ADMITTED" : d.reason);

  return {
    add(call) {
      result.calls++;
      if (call.promptTokens === null) {
        result.notEvaluable.set("NOT_RECORDED", (result.notEvaluable.get("NOT_RECORDED") ?? 0) + 1);
        return;
      }
      request.consumer = call.consumer;
      request.modelId = call.modelId;
      request.purpose = call.purpose;
      request.promptTokens = call.promptTokens;
      request.maxTokens = call.maxTokens;
      request.choices = call.choices ?? 1;
      request.poolStanding =
        call.poolEpochStart === null || call.poolVotes === null
          ? null
          : { epochStart: call.poolEpochStart, votes: BigInt(call.poolVotes) };
      setKeys(call.consumer, call.modelId);
      const b = decideOn(sides[0], call);
      const a = typeof b === "string" ? b : decideOn(sides[1], call);
      if (typeof b === "string" || typeof a === "string") {
        const reason = typeof b === "string" ? b : (a as NotEvaluableReason);
        result.notEvaluable.set(reason, (result.notEvaluable.get(reason) ?? 0) + 1);
        return;
      }
      result.evaluated++;
      charge(sides[0], call, b, "before");
      charge(sides[1], call, a, "after");
      const from = outcomeOf(b);
      const to = outcomeOf(a);
      count(result.before, from);
      count(result.after, to);
      if (from === to) return;
      const key = `${from}>${to}`;
      let transition = result.transitions.get(key);
      if (transition === undefined) {
        transition = { from, to, calls: 0, consumers: new Set() };
        result.transitions.set(key, transition);
      }
      transition.calls++;
      if (call.consumer === null) return;
      transition.consumers.add(call.consumer);
      let consumer = result.consumers.get(call.consumer);
      if (consumer === undefined) {
        consumer = { newlyRefused: 0, newlyAdmitted: 0 };
        result.consumers.set(call.consumer, consumer);
      }
      if (from === "ADMITTED") consumer.newlyRefused++;
      else if (to === "ADMITTED") consumer.newlyAdmitted++;
    },
    result: () => result,
  };
}
