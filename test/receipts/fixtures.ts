import { getAddress, hexlify, ZeroAddress } from "ethers";
import fc from "fast-check";
import type { Receipt } from "../../services/receipts/encoding.ts";

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hexlify(b));

/** Receipts as the audit may hold them, with strings of any length and UTF-8 (model ids are free text). */
export const receiptArb: fc.Arbitrary<Receipt> = fc.record({
  salt: hash,
  requestId: fc.uuid().map((u) => `req_${u.replaceAll("-", "")}`),
  consumer: fc.oneof(
    fc.constant(ZeroAddress),
    fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(hexlify(b))),
  ),
  model: fc.string({ unit: "grapheme", maxLength: 70 }),
  policyVersion: u64,
  proposalId: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
  admitted: fc.boolean(),
  reasonCode: fc.constantFrom("", "BUDGET_EXHAUSTED", "RATE_LIMITED", "UPSTREAM_ERROR"),
  outcome: fc.constantFrom("COMPLETED", "REFUSED", "UPSTREAM_ERROR", "CLIENT_CLOSED", "SWEPT"),
  promptTokens: u64,
  completionTokens: u64,
  chargedTokens: fc.bigInt({ min: 0n, max: 1_000_000n }),
  budgetSource: fc.constantFrom("", "pool", "grant:1", "grant:123456789"),
  epochStart: u64,
  decidedAt: u64,
  settledAt: u64,
  requestHash: hash,
  responseHash: hash,
});
