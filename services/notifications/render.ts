/** One event as a channel sends it. */
export interface OutgoingEvent {
  id: string;
  type: string;
  occurredAt: Date;
  data: Record<string, unknown>;
}

const titles: Record<string, (d: Record<string, unknown>) => string> = {
  "proposal.created": (d) => `New proposal ${short(d.proposalId)}: ${d.title ?? ""}`,
  "proposal.voting_started": (d) => `Voting has started on proposal ${short(d.proposalId)}`,
  "proposal.voting_ending": (d) => `Voting on proposal ${short(d.proposalId)} ends ${at(d.voteEnd)}`,
  "vote.cast": (d) => `${d.voter} voted ${d.support} on proposal ${short(d.proposalId)}`,
  "proposal.succeeded": (d) => `Proposal ${short(d.proposalId)} succeeded`,
  "proposal.defeated": (d) => `Proposal ${short(d.proposalId)} was defeated`,
  "proposal.queued": (d) => `Proposal ${short(d.proposalId)} is queued in the timelock`,
  "proposal.executed": (d) => `Proposal ${short(d.proposalId)} was executed`,
  "proposal.canceled": (d) => `Proposal ${short(d.proposalId)} was canceled`,
  "policy.queued": (d) => `A rule change for ${list(d.models)} is queued (proposal ${short(d.proposalId)})`,
  "policy.executed": (d) => `A rule change for ${list(d.models)} is now in force (proposal ${short(d.proposalId)})`,
  "budget.threshold": (d) => `You have used ${d.percent}% of your ${d.source} budget this epoch`,
  "guardian.action": (d) => `Guardian action: ${d.action} ${d.modelId ?? d.guardian ?? ""}`.trim(),
  "event.retracted": (d) => `Correction: the earlier "${d.type}" notice was for a block the chain replaced`,
};

/** A long proposal id, shortened in ASCII so that the subject line stays plain. */
function short(id: unknown): string {
  const s = String(id ?? "");
  return s.length > 14 ? `${s.slice(0, 6)}...${s.slice(-6)}` : s;
}

function at(unix: unknown): string {
  return typeof unix === "number" ? `at ${new Date(unix * 1000).toISOString()}` : "soon";
}

function list(models: unknown): string {
  return Array.isArray(models) ? models.join(", ") : String(models);
}

/** A subject line and a plain-text body a person reads in any mail client: the facts, one per line. */
export function renderText(event: OutgoingEvent): { subject: string; lines: string[] } {
  const subject = (titles[event.type] ?? ((_: Record<string, unknown>) => event.type))(event.data);
  const lines = Object.entries(event.data)
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  return {
    subject,
    lines: [`${subject}.`, "", ...lines, `time: ${event.occurredAt.toISOString()}`, `event id: ${event.id}`],
  };
}
