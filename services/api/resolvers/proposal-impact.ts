import { type Action, decodeCall, type EncodedCall } from "../../chain/actions.ts";
import type { ForkSimulator, Simulation } from "../../chain/fork-simulation.ts";
import { auditWindow, emptyAuditRow } from "../../db/audit-window.ts";
import { loadGovernanceRows } from "../../db/impact-state.ts";
import { type ShadowObservations, shadowObservations } from "../../db/shadow-observations.ts";
import { type GovernanceState, type StateAfter, stateAfter } from "../../policy/after-actions.ts";
import { governanceStateOf } from "../../policy/governance-state.ts";
import { diffStates, type PolicyDiff } from "../../policy/policy-diff.ts";
import {
  createReplay,
  type NotEvaluableReason,
  notEvaluableExplanations,
  type ReplayResult,
} from "../../policy/replay.ts";
import { type StateDifference, stateDifferences } from "../../policy/state-differences.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";
import { snapshotSettings } from "./policy-status.ts";

/** The replay's window: the last week unless asked, never more than a month of audit. */
const DEFAULT_WINDOW_S = 7 * 86_400;
const MAX_WINDOW_S = 31 * 86_400;

/** What proposalImpact (or a draft's impact) answers from; the costly parts run when their field is asked. */
export interface ImpactSource {
  proposalId: string;
  actions: Action[];
  calls: EncodedCall[];
}

export interface Impact extends ImpactSource {
  indexedBlock: number;
  before: GovernanceState;
  after: StateAfter;
  diff: PolicyDiff;
}

/** The diff of a proposal's actions against the index; the simulation and the replay are its fields. */
export async function impactOf(ctx: ApiContext, source: ImpactSource): Promise<Impact> {
  const rows = await loadGovernanceRows(ctx.deps.database.db);
  const before = governanceStateOf(rows, snapshotSettings(ctx.deps.config));
  const after = stateAfter(before, source.actions, {
    proposalId: source.proposalId,
    txHash: "",
    blockNumber: 0,
    blockTime: 0,
  });
  return {
    ...source,
    indexedBlock: Number(rows.policies.checkpoint?.block_number ?? 0),
    before,
    after,
    diff: diffStates(before, after.state),
  };
}

interface ReplayArgs {
  since?: number | null;
  until?: number | null;
}

/**
 * The replay window in seconds, [since, until), checked: ordered and at most MAX_WINDOW_S long. By default
 * it ends after the current second, so that a call made a moment ago is in it.
 */
function replayWindow(args: ReplayArgs, nowS: number): { since: number; until: number } {
  const until = args.until ?? nowS + 1;
  const since = args.since ?? until - DEFAULT_WINDOW_S;
  if (since >= until) {
    throw new AppError(
      "BAD_USER_INPUT",
      `the replay window must end after it starts (since ${since}, until ${until})`,
      {
        details: { reason: "WINDOW_EMPTY" },
      },
    );
  }
  if (until - since > MAX_WINDOW_S) {
    throw new AppError(
      "BAD_USER_INPUT",
      `the replay window may be at most ${MAX_WINDOW_S / 86_400} days; asked ${((until - since) / 86_400).toFixed(1)}`,
      { details: { reason: "WINDOW_TOO_LARGE", maxSeconds: MAX_WINDOW_S } },
    );
  }
  return { since, until };
}

const outcomeList = (map: Map<string, number>) =>
  [...map].map(([outcome, calls]) => ({ outcome, calls })).sort((a, b) => b.calls - a.calls);

/** What ImpactReplay's resolvers receive. */
export type ReplayShape = ReturnType<typeof replayShape>;

function replayShape(result: ReplayResult, window: { since: number; until: number }) {
  let newlyRefused = 0;
  let newlyAdmitted = 0;
  for (const t of result.transitions.values()) {
    if (t.from === "ADMITTED") newlyRefused += t.calls;
    else if (t.to === "ADMITTED") newlyAdmitted += t.calls;
  }
  return {
    ...window,
    calls: result.calls,
    evaluated: result.evaluated,
    notEvaluable: [...result.notEvaluable].map(([reason, calls]) => ({
      reason,
      calls,
      explanation: notEvaluableExplanations[reason as NotEvaluableReason],
    })),
    before: outcomeList(result.before),
    after: outcomeList(result.after),
    newlyRefused,
    newlyAdmitted,
    changes: [...result.transitions.values()]
      .map((t) => ({ from: t.from, to: t.to, calls: t.calls, consumers: t.consumers.size }))
      .sort((a, b) => b.calls - a.calls),
    consumersAffected: result.consumers.size,
    affected: [...result.consumers]
      .map(([consumer, c]) => ({ consumer, ...c }))
      .sort((a, b) => b.newlyRefused + b.newlyAdmitted - (a.newlyRefused + a.newlyAdmitted)),
    budgets: [...result.budgets]
      .map(([budget, b]) => ({ budget, tokensBefore: b.before, tokensAfter: b.after, change: b.after - b.before }))
      .sort((a, b) => Math.abs(b.change) - Math.abs(a.change)),
    estimatedCharges: result.estimatedCharges,
  };
}

/** What shadow mode recorded, counted as the replay counts its outcomes. */
function shadowShape(observed: ShadowObservations, queued: boolean) {
  let calls = 0;
  let failed = 0;
  let newlyRefused = 0;
  let newlyAdmitted = 0;
  let tokensChange = 0;
  const changes = [];
  for (const g of observed.groups) {
    calls += g.calls;
    if (g.shadow === null) {
      failed += g.calls;
      continue;
    }
    if (g.shadow === g.live) continue;
    changes.push({ from: g.live, to: g.shadow, calls: g.calls, consumers: g.consumers });
    if (g.live === "ADMITTED") {
      newlyRefused += g.calls;
      tokensChange -= g.tokensUsed;
    } else if (g.shadow === "ADMITTED") {
      newlyAdmitted += g.calls;
      tokensChange += g.shadowReserved;
    }
  }
  return {
    queued,
    since: observed.since,
    until: observed.until,
    calls,
    failed,
    changed: changes.reduce((sum, c) => sum + c.calls, 0),
    newlyRefused,
    newlyAdmitted,
    changes: changes.sort((a, b) => b.calls - a.calls),
    consumersAffected: observed.consumersAffected,
    tokensChange,
  };
}

/**
 * Where the state read from the fork after the calls differs from what the diff says: the calls do
 * something their decoded actions do not (a foreign call, an index behind the chain, a reading of ours
 * that is wrong). Each difference is a warning.
 */
function compareWithDiff(impact: Impact, simulation: Simulation, timelock: string): StateDifference[] {
  const warnings: StateDifference[] = [];
  const expectProblems = impact.after.problems.length > 0;
  if (expectProblems === simulation.executes) {
    const reverted = simulation.calls.find((c) => c.status === "REVERTED");
    warnings.push({
      subject: "proposal",
      field: "executes",
      expected: String(!expectProblems),
      actual: String(simulation.executes),
      message: simulation.executes
        ? "the diff expected a call to be refused, but every call succeeded on the fork"
        : `call ${reverted?.index} reverts on the fork (${reverted?.error?.name}) though its action looked valid`,
    });
  }
  // A reverted batch changes nothing on chain: there is no state after to compare.
  if (!simulation.executes) return warnings;
  return [...warnings, ...stateDifferences(impact.after.state, simulation.after, timelock)];
}

/** The models a proposal's actions name (a grant's model scope included). */
const modelIdsOf = (actions: Action[]) =>
  actions.flatMap((a) => ("modelId" in a && a.modelId !== "" ? [a.modelId] : []));

/** The fork's state after the calls, limited to what the proposal touches (and what it created). */
function forkState(impact: Impact, simulation: Simulation) {
  const { after } = simulation;
  const touched = new Set(modelIdsOf(impact.actions));
  const grants = new Set([
    ...impact.diff.grants.map((g) => g.grantId),
    ...impact.actions.flatMap((a) => (a.kind === "REVOKE_ALLOCATION" ? [a.grantId.toString()] : [])),
  ]);
  for (let id = impact.before.nextGrantId; id < after.nextGrantId; id++) grants.add(id.toString());
  return {
    models: [...touched].flatMap((modelId) => {
      const policy = after.policies.get(modelId);
      return policy ? [{ modelId, ...policy }] : [];
    }),
    grants: [...grants].flatMap((grantId) => {
      const grant = after.grants.get(grantId);
      return grant ? [{ grantId, ...grant }] : [];
    }),
    communityPool: after.pool,
    nextGrantId: after.nextGrantId,
    registryOwner: after.owners.registry,
    allocatorOwner: after.owners.allocator,
  };
}

/** The resolvers of ProposalImpact and its parts; `simulator` is absent when the service has no RPC URL. */
export function createImpactResolvers(simulator: ForkSimulator | undefined) {
  return {
    queries: {
      async proposalImpact(_: unknown, args: { proposalId: bigint }, ctx: ApiContext) {
        const row = await ctx.loaders.proposal(args.proposalId.toString());
        if (!row) {
          throw new AppError("NOT_FOUND", `no proposal ${args.proposalId} in the index`, {
            details: { proposalId: args.proposalId.toString() },
          });
        }
        const { contracts } = ctx.deps.deployment;
        const calls = row.targets.map((target, i) => ({
          target,
          value: BigInt(row.values[i] ?? 0),
          calldata: row.calldatas[i] as string,
        }));
        // The actions are read again from the calldata, never taken from a description.
        const actions = calls.map((c) => decodeCall(contracts, c.target, c.calldata));
        return impactOf(ctx, { proposalId: args.proposalId.toString(), actions, calls });
      },
    },
    ProposalImpact: {
      diff: (impact: Impact) => ({
        ...impact.diff,
        unknownCalls: impact.after.unknownCalls,
        problems: impact.after.problems,
      }),
      async simulation(impact: Impact, _: unknown, ctx: ApiContext) {
        if (!simulator) throw new AppError("SIMULATION_FAILED", "this service has no chain to fork");
        const simulation = await simulator.simulate({
          key: impact.proposalId,
          calls: impact.calls,
          modelIds: modelIdsOf(impact.actions),
        });
        return {
          blockNumber: simulation.blockNumber,
          executes: simulation.executes,
          gasUsed: simulation.calls.reduce((sum, c) => sum + (c.gasUsed ?? 0n), 0n),
          calls: simulation.calls,
          after: forkState(impact, simulation),
          warnings: compareWithDiff(impact, simulation, ctx.deps.deployment.contracts.timelock),
        };
      },
      async replay(impact: Impact, args: ReplayArgs, ctx: ApiContext) {
        const window = replayWindow(args, Math.floor(ctx.deps.now() / 1000));
        const replay = createReplay(impact.before.policies, impact.after.state.policies);
        const pages = auditWindow(ctx.deps.database.db, {
          since: new Date(window.since * 1000),
          until: new Date(window.until * 1000),
        });
        // One record read into again and again: the replay keeps none of it but the strings.
        const call = emptyAuditRow();
        for await (const page of pages) for (let i = 0; i < page.length; i++) replay.add(page.read(i, call));
        return replayShape(replay.result(), window);
      },
      async shadow(impact: Impact, _: unknown, ctx: ApiContext) {
        const [observed, row] = await Promise.all([
          shadowObservations(ctx.deps.database.db, impact.proposalId),
          ctx.loaders.proposal(impact.proposalId),
        ]);
        return shadowShape(observed, row?.status === "QUEUED");
      },
    },
    ImpactReplay: {
      /** Who would be affected is the audit trail's business: the operator's to read. */
      async consumers(replay: ReplayShape, args: { first?: number }, ctx: ApiContext) {
        const caller = await ctx.caller();
        if (caller.kind !== "operator") {
          throw new AppError("FORBIDDEN", "the consumers a proposal affects are shown to the operator token only");
        }
        return replay.affected.slice(0, Math.min(Math.max(args.first ?? 20, 1), 100));
      },
    },
  };
}
