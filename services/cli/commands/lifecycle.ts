import { type Command, InvalidArgumentError } from "commander";
import { AppError } from "../../shared/errors.ts";
import { castVote, delegate, executeProposal, queueProposal, type Support, signBallot } from "../chain-actions.ts";
import type { CliContext } from "../context.ts";
import { CAST_VOTE_BY_SIG, PROPOSAL, type ProposalView } from "../operations.ts";

export function proposalId(value: string): bigint {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("a proposal id is a decimal number");
  return BigInt(value);
}

function support(value: string): Support {
  const upper = value.toUpperCase();
  if (upper !== "FOR" && upper !== "AGAINST" && upper !== "ABSTAIN") {
    throw new InvalidArgumentError("support is for, against or abstain");
  }
  return upper;
}

/** The proposal as indexed: queue and execute need its calls. */
async function indexedProposal(ctx: CliContext, id: bigint): Promise<ProposalView> {
  const { proposal } = await ctx.client().request(PROPOSAL, { id: id.toString() });
  if (!proposal) {
    throw new AppError("NOT_FOUND", `proposal ${id} is not in the index (yet): try \`commons sync --wait\``);
  }
  return proposal;
}

export function registerLifecycle(program: Command, ctx: CliContext) {
  program
    .command("delegate")
    .description("delegate your voting power (to yourself by default, which you must do once to vote)")
    .argument("[address]", "whom to delegate to")
    .action(async (to: string | undefined) => {
      const wallet = await ctx.wallet();
      const delegatee = to ?? wallet.address;
      const receipt = await delegate(await ctx.deployment(), wallet, delegatee);
      ctx.print(
        { delegatee, transactionHash: receipt.hash },
        () => `Delegated to ${delegatee}\n  transaction ${receipt.hash}`,
      );
    });

  program
    .command("vote")
    .description("vote on an active proposal, from your wallet or gasless by signature (--by-sig)")
    .argument("<proposalId>", "the proposal", proposalId)
    .argument("<support>", "for | against | abstain", support)
    .option("--reason <text>", "a reason, recorded with the vote")
    .option("--by-sig", "sign an EIP-712 ballot and let the service relay it (castVoteBySig)")
    .action(async (id: bigint, choice: Support, flags: { reason?: string; bySig?: boolean }) => {
      const wallet = await ctx.wallet();
      const deployment = await ctx.deployment();
      if (flags.bySig) {
        const signature = await signBallot(deployment, wallet, id, choice, flags.reason);
        const { castVoteBySig } = await ctx.client().request(CAST_VOTE_BY_SIG, {
          proposalId: id.toString(),
          support: choice,
          voter: wallet.address,
          signature,
          reason: flags.reason ?? null,
        });
        ctx.print(
          { proposalId: id.toString(), support: choice, voter: wallet.address, transactionHash: castVoteBySig },
          () => `Voted ${choice} on ${id} by signature; relayed in ${castVoteBySig}`,
        );
        return;
      }
      const receipt = await castVote(deployment, wallet, id, choice, flags.reason);
      ctx.print(
        { proposalId: id.toString(), support: choice, voter: wallet.address, transactionHash: receipt.hash },
        () => `Voted ${choice} on ${id}\n  transaction ${receipt.hash}`,
      );
    });

  for (const [name, description, act] of [
    ["queue", "queue a succeeded proposal in the timelock", queueProposal],
    ["execute", "execute a queued proposal once its timelock delay has passed", executeProposal],
  ] as const) {
    program
      .command(name)
      .description(description)
      .argument("<proposalId>", "the proposal", proposalId)
      .action(async (id: bigint) => {
        const proposal = await indexedProposal(ctx, id);
        const receipt = await act(await ctx.deployment(), await ctx.wallet(), proposal);
        const done = name === "queue" ? "Queued" : "Executed";
        ctx.print(
          { proposalId: id.toString(), transactionHash: receipt.hash, blockNumber: receipt.blockNumber },
          () => `${done} ${id}\n  transaction ${receipt.hash} (block ${receipt.blockNumber})`,
        );
      });
  }
}
