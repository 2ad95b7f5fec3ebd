import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { parseUnits } from "ethers";
import { AppError } from "../../shared/errors.ts";
import { send } from "../chain-actions.ts";
import type { CliContext } from "../context.ts";
import type { ActionInput } from "../gql/graphql.ts";
import { DRAFT_PROPOSAL } from "../operations.ts";

interface ProposeFlags {
  file?: string;
  description?: string;
  model?: string;
  disapprove?: boolean;
  maxTokens?: string;
  rpm?: string;
  purposes?: string;
  blocked?: string;
  guidelineUri?: string;
  guidelineHash?: string;
  suspend?: string;
  reason?: string;
  grant?: string;
  tokens?: string;
  grantModel?: string;
  start?: string;
  end?: string;
  revoke?: string;
  poolAllowance?: string;
  poolSize?: string;
  epochLength?: string;
  poolMinVotes?: string;
  draftOnly?: boolean;
  proposer?: string;
  guardian?: string;
  guardianSuspensionPeriod?: string;
}

const DAY = 86_400;
const list = (value: string | undefined) =>
  value
    ? value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

function required(value: string | undefined, flag: string, because: string): string {
  if (value === undefined) throw new AppError("BAD_USER_INPUT", `${flag} is required with ${because}`);
  return value;
}

/** Governance tokens as written (e.g. 100 or 0.5) to token wei: the token has 18 decimals. */
function tokens(value: string, flag: string): string {
  try {
    const wei = parseUnits(value, 18);
    if (wei >= 0n) return wei.toString();
  } catch {
    // Not a decimal amount: refused below with the flag's name.
  }
  throw new AppError("BAD_USER_INPUT", `${flag} must be an amount of governance tokens, e.g. 100 or 0.5`);
}

function integer(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new AppError("BAD_USER_INPUT", `${flag} must be a whole number`);
  return n;
}

/** The actions the flags describe, as draftProposal's ActionInput (one per flag group). */
function actionsFromFlags(f: ProposeFlags, nowS: number): ActionInput[] {
  const actions: ActionInput[] = [];
  if (f.model) {
    actions.push({
      setModelPolicy: {
        modelId: f.model,
        approved: !f.disapprove,
        maxTokensPerRequest: integer(required(f.maxTokens, "--max-tokens", "--model"), "--max-tokens"),
        requestsPerMinute: integer(required(f.rpm, "--rpm", "--model"), "--rpm"),
        allowedPurposes: list(f.purposes),
        blockedTerms: list(f.blocked),
        guidelineUri: required(f.guidelineUri, "--guideline-uri", "--model"),
        guidelineHash: required(f.guidelineHash, "--guideline-hash", "--model"),
      },
    });
  }
  if (f.suspend) {
    actions.push({ suspendModel: { modelId: f.suspend, reason: required(f.reason, "--reason", "--suspend") } });
  }
  if (f.grant) {
    const start = f.start ? integer(f.start, "--start") : nowS;
    actions.push({
      grantAllocation: {
        grantee: f.grant,
        modelId: f.grantModel ?? "",
        tokensPerEpoch: required(f.tokens, "--tokens", "--grant"),
        start,
        end: f.end ? integer(f.end, "--end") : start + 30 * DAY,
      },
    });
  }
  if (f.revoke) actions.push({ revokeAllocation: { grantId: f.revoke } });
  if (f.poolAllowance || f.poolSize || f.epochLength) {
    actions.push({
      setCommunityPool: {
        allowancePerAddress: required(f.poolAllowance, "--pool-allowance", "a community pool change"),
        poolSizePerEpoch: required(f.poolSize, "--pool-size", "a community pool change"),
        epochLength: integer(required(f.epochLength, "--epoch-length", "a community pool change"), "--epoch-length"),
      },
    });
  }
  if (f.poolMinVotes !== undefined) {
    actions.push({ setPoolEligibility: { minVotes: tokens(f.poolMinVotes, "--pool-min-votes") } });
  }
  if (f.guardian) actions.push({ setGuardian: { guardian: f.guardian } });
  if (f.guardianSuspensionPeriod) {
    const period = integer(f.guardianSuspensionPeriod, "--guardian-suspension-period");
    actions.push({ setGuardianSuspensionPeriod: { period } });
  }
  return actions;
}

async function draftInput(f: ProposeFlags): Promise<{ description: string; actions: ActionInput[] }> {
  let fromFile: { description?: string; actions?: ActionInput[] } = {};
  if (f.file) {
    try {
      fromFile = JSON.parse(await readFile(f.file, "utf8"));
    } catch (cause) {
      throw new AppError("BAD_USER_INPUT", `cannot read ${f.file} as JSON`, { cause });
    }
  }
  const actions = [...(fromFile.actions ?? []), ...actionsFromFlags(f, Math.floor(Date.now() / 1000))];
  const description = f.description ?? fromFile.description;
  if (!description) throw new AppError("BAD_USER_INPUT", "a proposal needs --description (or `description` in --file)");
  if (actions.length === 0) {
    throw new AppError("BAD_USER_INPUT", "a proposal needs at least one action: see `commons propose --help`");
  }
  return { description, actions };
}

export function registerPropose(program: Command, ctx: CliContext) {
  program
    .command("propose")
    .description("draft a proposal through the service (draftProposal), then sign and send it from your wallet")
    .option("--file <path>", "JSON: { description, actions: [ActionInput...] } as in the GraphQL schema")
    .option("--description <text>", "what the proposal does and why")
    .option("--model <id>", "set a model policy for this model id")
    .option("--disapprove", "with --model: record the model as not approved")
    .option("--max-tokens <n>", "with --model: max tokens per request")
    .option("--rpm <n>", "with --model: requests per minute per consumer")
    .option("--purposes <list>", "with --model: allowed purposes, comma-separated (empty: any)")
    .option("--blocked <list>", "with --model: blocked content terms, comma-separated")
    .option("--guideline-uri <uri>", "with --model: the guideline document")
    .option("--guideline-hash <hash>", "with --model: the guideline document's 32-byte hash")
    .option("--suspend <model>", "suspend a model (needs --reason)")
    .option("--reason <text>", "with --suspend: why")
    .option("--grant <address>", "grant an allocation to this address (needs --tokens)")
    .option("--tokens <n>", "with --grant: tokens per epoch")
    .option("--grant-model <id>", "with --grant: only for this model (default: any approved model)")
    .option("--start <unix>", "with --grant: first second of validity (default: now)")
    .option("--end <unix>", "with --grant: first second after validity (default: start + 30 days)")
    .option("--revoke <grantId>", "revoke an allocation")
    .option("--pool-allowance <n>", "community pool: tokens per address per epoch")
    .option("--pool-size <n>", "community pool: tokens per epoch for everyone")
    .option("--epoch-length <seconds>", "community pool: epoch length")
    .option(
      "--pool-min-votes <tokens>",
      "community pool: voting power (in governance tokens, e.g. 100) an address needs at an epoch's start to draw on it; 0: everyone",
    )
    .option(
      "--guardian <address>",
      "appoint or replace the guardian, who may cancel proposals and briefly suspend models (0x0…0: remove it)",
    )
    .option(
      "--guardian-suspension-period <seconds>",
      "how long a guardian's suspension lasts unless a vote confirms it (3600 to 2592000)",
    )
    .option("--draft-only", "print the drafted transaction without sending it")
    .option(
      "--proposer <address>",
      "with --draft-only: the wallet that will send propose() (the draft is bound to it; default: your API key's)",
    )
    .action(async (flags: ProposeFlags) => {
      const input = await draftInput(flags);
      const wallet = flags.draftOnly ? undefined : await ctx.wallet();
      const { draftProposal } = await ctx.client().request(DRAFT_PROPOSAL, {
        // Sent from this wallet, the draft is bound to it; a draft only is bound to --proposer.
        input: { ...input, proposer: wallet?.address ?? flags.proposer ?? null },
      });
      if (!wallet) {
        ctx.print(draftProposal, () =>
          [
            `Drafted proposal ${draftProposal.proposalId} (not sent).`,
            // The calls, for a governor interface such as Tally's custom actions: one per action.
            ...draftProposal.targets.map((target, i) =>
              [
                `  call ${i + 1}`,
                `    target    ${target}`,
                `    value     ${draftProposal.values[i]}`,
                `    calldata  ${draftProposal.calldatas[i]}`,
              ].join("\n"),
            ),
            `  description ${JSON.stringify(draftProposal.description)}`,
            `  propose() transaction: to ${draftProposal.transaction.to}`,
            `    data  ${draftProposal.transaction.data}`,
          ].join("\n"),
        );
        return;
      }
      const { transaction } = draftProposal;
      const receipt = await send("proposing", () =>
        wallet.sendTransaction({ to: transaction.to, data: transaction.data, value: BigInt(transaction.value) }),
      );
      ctx.print(
        { proposalId: draftProposal.proposalId, transactionHash: receipt.hash, blockNumber: receipt.blockNumber },
        () => `Proposed ${draftProposal.proposalId}\n  transaction ${receipt.hash} (block ${receipt.blockNumber})`,
      );
    });
}
