import { readFile } from "node:fs/promises";
import { type Command, InvalidArgumentError } from "commander";
import { readAnchor, usageAnchorAt } from "../../chain/usage-anchor.ts";
import { type PublicReceipt, publicReceiptFromJson, receiptFromJson, receiptLeaf } from "../../receipts/encoding.ts";
import { type CheckResult, type Verification, verifyPeriod, verifyReceipt } from "../../receipts/verify.ts";
import { AppError } from "../../shared/errors.ts";
import type { CliContext } from "../context.ts";
import { graphql } from "../gql/gql.ts";

const RECEIPT = graphql(`
  query CliReceipt($requestId: String!) {
    receipt(requestId: $requestId) {
      salt requestId consumer model policyVersion proposalId admitted reasonCode outcome promptTokens
      completionTokens chargedTokens budgetSource epochStart decidedAt settledAt requestHash responseHash
      sealed leaf period proof
      usagePeriod { root state transaction contract }
    }
  }
`);

function periodNumber(value: string): number {
  if (!/^[0-9]{1,15}$/.test(value)) throw new InvalidArgumentError("the period is a non-negative integer");
  return Number(value);
}

const checkLine = (c: CheckResult) =>
  `  ${c.ok ? "ok  " : "FAIL"} ${c.check}: expected ${c.expected}, found ${c.actual}`;

/** What a verification printed as lines, ending with the verdict. */
function describe(title: string[], verification: Verification): string {
  const verdict = verification.ok ? "VERIFIED" : `NOT VERIFIED: the ${verification.failed} check failed`;
  return [...title, ...verification.checks.map(checkLine), verdict].join("\n");
}

/** The public receipts of a period file: the service's `{ receipts: [...] }`, or a bare array of them. */
function receiptsOf(json: unknown): PublicReceipt[] {
  const list = Array.isArray(json) ? json : (json as { receipts?: unknown }).receipts;
  if (!Array.isArray(list))
    throw new AppError("BAD_USER_INPUT", "the file holds no receipts (an array, or { receipts })");
  return list.map((r) => publicReceiptFromJson(r as Record<string, unknown>));
}

export function registerVerify(program: Command, ctx: CliContext) {
  program
    .command("verify")
    .description(
      "check a call's usage receipt, or a whole period's, against the root anchored on chain (read from the chain itself)",
    )
    .argument(
      "[requestId]",
      "the call's request id (the x-commons-receipt header); read with COMMONS_API_KEY (yours) or COMMONS_OPERATOR_TOKEN",
    )
    .option("--period <n>", "a whole anchoring period", periodNumber)
    .option("--file <receipts.json>", "the period's receipts, as downloaded from its anchor's URI")
    .action(async (requestId: string | undefined, flags: { period?: number; file?: string }) => {
      const anchor = usageAnchorAt(await ctx.deployment(), await ctx.provider());
      let verification: Verification;
      let title: string[];
      if (flags.period !== undefined) {
        if (!flags.file) throw new AppError("BAD_USER_INPUT", "--period needs --file with the period's receipts");
        const receipts = receiptsOf(JSON.parse(await readFile(flags.file, "utf8")));
        const anchored = await readAnchor(anchor, flags.period);
        if (anchored.anchoredAt === 0n)
          throw new AppError("NOT_FOUND", `period ${flags.period} is not anchored on chain`);
        verification = verifyPeriod(receipts, anchored);
        title = [
          `Period ${flags.period}: ${receipts.length} receipts from ${flags.file}`,
          `against UsageAnchor ${await anchor.getAddress()}: root ${anchored.root}, ${anchored.count} receipts, ${anchored.totalTokens} tokens`,
        ];
      } else {
        if (!requestId) throw new AppError("BAD_USER_INPUT", "name a request id, or --period with --file");
        // A receipt is private: its consumer's API key or the operator token reads it.
        const bearer = ctx.env.COMMONS_API_KEY ?? ctx.env.COMMONS_OPERATOR_TOKEN;
        const { receipt } = await ctx.client(bearer).request(RECEIPT, { requestId });
        if (!receipt) throw new AppError("NOT_FOUND", `no settled call ${requestId}`);
        const { sealed: _s, leaf: _l, period, proof, usagePeriod, ...values } = receipt;
        if (!usagePeriod) throw new AppError("NOT_FOUND", `the period ${period} of ${requestId} is not built yet`);
        const anchored = await readAnchor(anchor, BigInt(period));
        if (anchored.anchoredAt === 0n)
          throw new AppError("NOT_FOUND", `period ${period} is not anchored on chain yet`);
        const parsed = receiptFromJson(values);
        // No proof: the receipt as the service reads it now is not a leaf of the period's tree (PROOF fails).
        verification = verifyReceipt({
          receipt: parsed,
          proof: proof ?? [],
          root: usagePeriod.root,
          anchoredRoot: anchored.root,
        });
        title = [
          `Receipt ${requestId} of ${parsed.consumer}: ${parsed.admitted ? "admitted" : `refused (${parsed.reasonCode})`}, ${parsed.outcome}, model ${parsed.model}, policy v${parsed.policyVersion} of proposal ${parsed.proposalId}, ${parsed.chargedTokens} tokens from ${parsed.budgetSource || "no budget"}`,
          `leaf ${receiptLeaf(parsed)} (recomputed from the receipt's values and salt), period ${period}, proof of ${proof?.length ?? 0} hashes`,
          `against UsageAnchor ${await anchor.getAddress()}: root ${anchored.root} (transaction ${usagePeriod.transaction ?? "unknown"})`,
        ];
      }
      ctx.print(verification, () => describe(title, verification));
      if (!verification.ok) {
        throw new AppError("RECEIPT_NOT_VERIFIED", `the ${verification.failed} check failed`, {
          details: { failed: verification.failed },
        });
      }
    });
}
