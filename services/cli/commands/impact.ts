import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.ts";
import { PROPOSAL_IMPACT, type ProposalImpactView } from "../operations.ts";
import { proposalId } from "./lifecycle.ts";

const DAY_S = 86_400;

function days(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("days is a positive number");
  return n;
}

const shown = (value: string | null) => value ?? "-";
const fieldChanges = (fields: { field: string; before: string | null; after: string | null }[]) =>
  fields.map((f) => `${f.field} ${shown(f.before)} -> ${shown(f.after)}`).join("; ");

/** The impact in plain lines: what changes, what the simulation did, what the replay found. */
export function describeImpact(impact: ProposalImpactView): string {
  const { diff, simulation, replay, shadow } = impact;
  const lines = [`Proposal ${impact.proposalId}, against the policies indexed at block ${impact.indexedBlock}`];
  lines.push("What changes:");
  for (const m of diff.models) lines.push(`  model ${m.modelId} (${m.change}): ${fieldChanges(m.fields)}`);
  for (const g of diff.grants) {
    lines.push(`  grant #${g.grantId} to ${g.grantee}${g.modelId ? ` for ${g.modelId}` : ""} (${g.change})`);
  }
  if (diff.communityPool.length > 0) lines.push(`  community pool: ${fieldChanges(diff.communityPool)}`);
  if (diff.governor.length > 0) lines.push(`  governor: ${fieldChanges(diff.governor)}`);
  if (diff.guardian.length > 0) lines.push(`  guardian: ${fieldChanges(diff.guardian)}`);
  for (const index of diff.unknownCalls)
    lines.push(`  call ${index}: a call this service cannot read (not in this diff)`);
  for (const p of diff.problems) lines.push(`  ! call ${p.index} will be refused: ${p.error} (${p.message})`);
  if (lines.length === 2) lines.push("  nothing");

  const reverted = simulation.calls.find((c) => c.status === "REVERTED");
  lines.push(
    `Simulation on a fork of block ${simulation.blockNumber}: ${
      simulation.executes ? `executes, ${simulation.gasUsed} gas` : `REVERTS at call ${reverted?.index}`
    }`,
  );
  for (const c of simulation.calls) {
    const error = c.error ? ` ${c.error.name}(${c.error.args.join(", ")})` : "";
    lines.push(`  call ${c.index} to ${c.target}: ${c.status}${c.gasUsed ? `, ${c.gasUsed} gas` : ""}${error}`);
  }
  for (const w of simulation.warnings) lines.push(`  WARNING ${w.message}`);

  const day = (s: number) => new Date(s * 1000).toISOString();
  lines.push(`Replay of ${replay.calls} audited calls, ${day(replay.since)} .. ${day(replay.until)}:`);
  lines.push(`  ${replay.evaluated} decided again`);
  for (const n of replay.notEvaluable) lines.push(`  ${n.calls} not evaluable (${n.reason}): ${n.explanation}`);
  lines.push(
    `  ${replay.newlyRefused} newly refused, ${replay.newlyAdmitted} newly admitted; ${replay.consumersAffected} consumers affected`,
  );
  for (const c of replay.changes) lines.push(`  ${c.from} -> ${c.to}: ${c.calls} calls of ${c.consumers} consumers`);
  for (const b of replay.budgets) {
    if (b.change !== 0) lines.push(`  budget ${b.budget}: ${b.tokensBefore} -> ${b.tokensAfter} tokens`);
  }
  if (replay.estimatedCharges > 0) {
    lines.push(`  (${replay.estimatedCharges} calls admitted only after the change are counted at their reservation)`);
  }

  const observed =
    shadow.since === null || shadow.until === null ? "" : `, ${day(shadow.since)} .. ${day(shadow.until)}`;
  lines.push(
    `Shadow mode (${shadow.queued ? "queued: live calls are decided under it too" : "not queued"}): ${shadow.calls} calls${observed}`,
  );
  if (shadow.calls > 0) {
    lines.push(
      `  ${shadow.changed} would change: ${shadow.newlyRefused} newly refused, ${shadow.newlyAdmitted} newly admitted; ${shadow.consumersAffected} consumers affected; tokens ${shadow.tokensChange >= 0 ? "+" : ""}${shadow.tokensChange} (estimate)`,
    );
    for (const c of shadow.changes) lines.push(`  ${c.from} -> ${c.to}: ${c.calls} calls of ${c.consumers} consumers`);
    if (shadow.failed > 0) lines.push(`  ${shadow.failed} shadow evaluations failed (their live decisions stood)`);
  }
  return lines.join("\n");
}

export function registerImpact(program: Command, ctx: CliContext) {
  program
    .command("impact")
    .description("what a proposal will do: its changes, a simulated execution, and recent audited calls decided again")
    .argument("<proposalId>", "the proposal", proposalId)
    .option("--days <n>", "replay the audited calls of the last n days (at most 31)", days, 7)
    .action(async (id: bigint, flags: { days: number }) => {
      // To the end of the current second: a call made a moment ago is in the window.
      const until = Math.floor(Date.now() / 1000) + 1;
      const { proposalImpact } = await ctx.client().request(PROPOSAL_IMPACT, {
        proposalId: id.toString(),
        since: until - Math.round(flags.days * DAY_S),
        until,
      });
      ctx.print(proposalImpact, () => describeImpact(proposalImpact));
    });
}
