import { type Command, InvalidArgumentError } from "commander";
import { AppError } from "../../shared/errors.ts";
import type { CliContext } from "../context.ts";
import type { ProposalState } from "../gql/graphql.ts";
import {
  POLICY,
  POLICY_STATUS,
  type PolicyStatusView,
  type PolicyVersionView,
  PROPOSAL,
  PROPOSALS,
  type ProposalView,
  SYNC_STATUS,
} from "../operations.ts";

const time = (unix: number | null) => (unix === null ? "-" : new Date(unix * 1000).toISOString());

function describeProposal(p: ProposalView): string {
  return [
    `Proposal ${p.id}: ${p.state}`,
    `  ${p.description.split("\n")[0]}`,
    `  actions   ${p.kinds.join(", ")}`,
    `  proposer  ${p.proposer}`,
    `  voting    ${time(p.voteStart)} .. ${time(p.voteEnd)}${p.eta ? `; executable from ${time(p.eta)}` : ""}`,
    `  tally     for ${p.tally.for}, against ${p.tally.against}, abstain ${p.tally.abstain} (${p.tally.voteCount} votes; quorum ${p.tally.quorum}${p.tally.quorumReached ? " reached" : " not reached"})`,
  ].join("\n");
}

function describePolicy(v: PolicyVersionView): string {
  const state = v.suspended ? `SUSPENDED (${v.suspendReason ?? ""})` : v.approved ? "approved" : "not approved";
  return [
    `Model ${v.modelId} v${v.version}: ${state}`,
    `  max tokens per request ${v.maxTokensPerRequest}, ${v.requestsPerMinute} requests per minute`,
    `  purposes ${v.allowedPurposes.join(", ") || "(any)"}; blocked terms ${v.blockedTerms.length}`,
    `  guideline ${v.guidelineUri} (${v.guidelineHash})`,
    `  enacted by proposal ${v.enactedBy.proposalId ?? "(deployment)"} in ${v.enactedBy.transactionHash} (block ${v.enactedBy.blockNumber})`,
  ].join("\n");
}

function describeStatus(s: PolicyStatusView): string {
  return [
    s.policy ? describePolicy(s.policy) : `Model ${s.model}: governance never set a policy`,
    `For ${s.consumer} this epoch (${time(s.epochStart)} .. ${time(s.epochEnd)}):`,
    ...(s.budgets ?? []).map(
      (b) => `  ${b.source}${b.grantId ? ` #${b.grantId}` : ""}: used ${b.used} of ${b.granted}, ${b.left} left`,
    ),
    s.privateAccess.granted
      ? `  a call now would be ${s.admitted ? "admitted" : `refused: ${s.reason} (${s.message})`}`
      : `  budget and decisions not shown: ${s.privateAccess.reason} (COMMONS_API_KEY or COMMONS_OPERATOR_TOKEN)`,
    ...(s.recentDecisions
      ? [`  recent decisions: ${s.recentDecisions.map((d) => (d.admitted ? "admitted" : d.reasonCode)).join(", ")}`]
      : []),
  ].join("\n");
}

export function registerReads(program: Command, ctx: CliContext) {
  program
    .command("proposals")
    .description("list proposals, newest first")
    .option("--state <states>", "only these states, comma-separated (active, queued, executed...)")
    .option("--first <n>", "how many", "20")
    .action(async (flags: { state?: string; first: string }) => {
      // The service refuses a state it does not know (GRAPHQL_VALIDATION_FAILED), naming it.
      const filter = flags.state ? { state: flags.state.toUpperCase().split(",") as ProposalState[] } : undefined;
      const { proposals } = await ctx.client().request(PROPOSALS, { first: Number(flags.first), filter });
      const nodes = proposals.edges.map((e) => e.node);
      ctx.print(nodes, () =>
        nodes.length === 0
          ? "No proposals."
          : nodes.map((p) => `${p.id}  ${p.state.padEnd(9)} ${p.description.split("\n")[0]}`).join("\n"),
      );
    });

  program
    .command("status")
    .description("a proposal's state, tally and schedule")
    .argument("<proposalId>", "the proposal", (v: string) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError("a proposal id is a decimal number");
      return v;
    })
    .action(async (id: string) => {
      const { proposal } = await ctx.client().request(PROPOSAL, { id });
      if (!proposal) throw new AppError("NOT_FOUND", `proposal ${id} is not in the index`);
      ctx.print(proposal, () => describeProposal(proposal));
    });

  program
    .command("policy")
    .description("a model's policy in force and where it came from; with a consumer, its budget and status")
    .argument("<model>", "the model id")
    .option("--consumer <address>", "whose budget to show (default: your wallet, when a key is set)")
    .option("--purpose <purpose>", "the purpose a call would declare")
    .action(async (model: string, flags: { consumer?: string; purpose?: string }) => {
      const haveKey = Boolean(ctx.env.COMMONS_PRIVATE_KEY || ctx.options().keystore || ctx.env.COMMONS_KEYSTORE);
      const consumer = flags.consumer ?? (haveKey ? (await ctx.wallet()).address : undefined);
      if (consumer) {
        // Recent decisions are private: shown with the consumer's API key or the operator token.
        const bearer = ctx.env.COMMONS_API_KEY ?? ctx.env.COMMONS_OPERATOR_TOKEN;
        const { policyStatus } = await ctx.client(bearer).request(POLICY_STATUS, {
          model,
          consumer,
          purpose: flags.purpose ?? null,
          withDecisions: bearer !== undefined,
        });
        ctx.print(policyStatus, () => describeStatus(policyStatus));
        return;
      }
      const { policy } = await ctx.client().request(POLICY, {
        model,
      });
      if (!policy) throw new AppError("NOT_FOUND", `governance never set a policy for ${model}`);
      ctx.print(policy.current, () => describePolicy(policy.current));
    });

  program
    .command("sync")
    .description("how far the index is behind the chain; --wait blocks until it has caught up")
    .option("--wait", "wait until the index reaches the chain's head (as --rpc sees it now)")
    .option("--timeout <seconds>", "with --wait: give up after this long", "60")
    .action(async (flags: { wait?: boolean; timeout: string }) => {
      const read = async () => (await ctx.client().request(SYNC_STATUS)).syncStatus;
      let status = await read();
      if (flags.wait) {
        const head = await (await ctx.provider()).getBlockNumber();
        const deadline = Date.now() + Number(flags.timeout) * 1000;
        while (status.indexedBlock < head) {
          if (Date.now() > deadline) {
            throw new AppError(
              "POLICY_STATE_STALE",
              `the index is at block ${status.indexedBlock}, the chain at ${head}`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
          status = await read();
        }
      }
      ctx.print(status, () =>
        [
          `Indexed block ${status.indexedBlock} of ${status.chainHead} (${status.lag} behind)`,
          ...(status.lastError ? [`  last error: ${status.lastError}`] : []),
        ].join("\n"),
      );
    });
}
