import { getAddress, getBytes, keccak256, ZeroAddress, ZeroHash } from "ethers";

/**
 * A usage receipt: one settled gateway call (admitted or refused), as a third party recomputes its hash.
 * The encoding is fixed (docs/interfaces.md, "Usage receipts"): the ABI encoding of RECEIPT_TYPES in this
 * order, and its leaf is the `@openzeppelin/merkle-tree` StandardMerkleTree leaf of those values,
 * keccak256(keccak256(abi.encode(...))), which OpenZeppelin's MerkleProof.verify checks on chain.
 * Changing a field or its order is a new receipt format: never edit this list in place.
 */
export const RECEIPT_FIELDS = [
  ["requestId", "string"],
  ["consumer", "address"],
  ["model", "string"],
  ["policyVersion", "uint64"],
  ["proposalId", "uint256"],
  ["admitted", "bool"],
  ["reasonCode", "string"],
  ["outcome", "string"],
  ["promptTokens", "uint64"],
  ["completionTokens", "uint64"],
  ["chargedTokens", "uint64"],
  ["budgetSource", "string"],
  ["epochStart", "uint64"],
  ["decidedAt", "uint64"],
  ["settledAt", "uint64"],
  ["requestHash", "bytes32"],
  ["responseHash", "bytes32"],
] as const;

export type ReceiptField = (typeof RECEIPT_FIELDS)[number][0];

/** The Solidity types of a receipt's values, in order: the StandardMerkleTree's leaf encoding. */
export const RECEIPT_TYPES: string[] = RECEIPT_FIELDS.map(([, type]) => type);

export interface Receipt {
  requestId: string;
  /** Checksummed; the zero address for a call refused before its key named anyone. */
  consumer: string;
  model: string;
  /** 0: no policy applied (the model had none). */
  policyVersion: bigint;
  /** The proposal that enacted the policy version (0: none known). */
  proposalId: bigint;
  admitted: boolean;
  /** The refusal's reason code, UPSTREAM_ERROR for an admitted call the upstream failed, "" otherwise. */
  reasonCode: string;
  /** The audit record's outcome: COMPLETED, REFUSED, UPSTREAM_ERROR, CLIENT_CLOSED or SWEPT. */
  outcome: string;
  promptTokens: bigint;
  completionTokens: bigint;
  /** What the call was charged (its budget's tokens). */
  chargedTokens: bigint;
  /** The budget account charged: `grant:<id>`, `pool`, or "" for a refusal. */
  budgetSource: string;
  /** The epoch (unix seconds) the call was charged in; 0 for a refusal before one was chosen. */
  epochStart: bigint;
  /** Unix milliseconds: when the call was decided, and when it was settled (decidedAt for refusals). */
  decidedAt: bigint;
  settledAt: bigint;
  /**
   * sha256 of the raw request body and of the answer as sent (services/gateway/body-hash.ts); zero when the
   * audit has none (refusals, calls the upstream failed, records older than migration 0022).
   */
  requestHash: string;
  responseHash: string;
}

/** The receipt's values in RECEIPT_TYPES order, as `@openzeppelin/merkle-tree` takes a leaf. */
export function receiptValues(receipt: Receipt): unknown[] {
  return RECEIPT_FIELDS.map(([name]) => receipt[name]);
}

/** The inverse of receiptValues, for a receipt read back from JSON (strings for the integers). */
export function receiptFromValues(values: readonly unknown[]): Receipt {
  if (values.length !== RECEIPT_FIELDS.length) throw new RangeError(`a receipt has ${RECEIPT_FIELDS.length} values`);
  const entries = RECEIPT_FIELDS.map(([name, type], i) => {
    const value = values[i];
    if (type.startsWith("uint")) return [name, BigInt(value as string | number | bigint)];
    if (type === "bool") return [name, value === true || value === "true"];
    if (type === "address") return [name, getAddress(String(value))];
    return [name, String(value)];
  });
  return Object.fromEntries(entries) as Receipt;
}

/** The receipt as JSON (integers as decimal strings), the format of a period's file and of the API. */
export function receiptToJson(receipt: Receipt): Record<ReceiptField, string | boolean> {
  return Object.fromEntries(
    RECEIPT_FIELDS.map(([name]) => {
      const value = receipt[name];
      return [name, typeof value === "bigint" ? value.toString() : value];
    }),
  ) as Record<ReceiptField, string | boolean>;
}

export function receiptFromJson(json: Record<string, unknown>): Receipt {
  return receiptFromValues(RECEIPT_FIELDS.map(([name]) => json[name]));
}

/** An audit record (gateway_decisions) as far as its receipt reads it. */
export interface AuditRecord {
  request_id: string;
  consumer: string | null;
  model_id: string;
  policy_version: number | null;
  proposal_id: string | null;
  admitted: boolean;
  reason_code: string | null;
  outcome: string;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  tokens_used: number;
  source: string | null;
  source_id: string | null;
  epoch_start: number | null;
  decided_at: Date | null;
  created_at: Date;
  settled_at: Date | null;
  request_hash: string | null;
  response_hash: string | null;
}

/** The budget account a record charged, as the ledger names it (services/db/ledger/accounts.ts). */
function budgetSource(record: AuditRecord): string {
  if (!record.admitted || record.source === null) return "";
  return record.source === "grant" ? `grant:${record.source_id ?? ""}` : record.source;
}

// Checksumming an address is a keccak256: consumers recur within a period, so each is checksummed once.
const checksums = new Map<string, string>();
function checksummed(address: string): string {
  let result = checksums.get(address);
  if (result === undefined) {
    result = getAddress(address);
    if (checksums.size > 100_000) checksums.clear();
    checksums.set(address, result);
  }
  return result;
}

/** The receipt of a settled audit record (a PENDING one has no receipt yet: its charge is not known). */
export function receiptOf(record: AuditRecord): Receipt {
  const decidedAt = BigInt((record.decided_at ?? record.created_at).getTime());
  return {
    requestId: record.request_id,
    consumer: record.consumer === null ? ZeroAddress : checksummed(record.consumer),
    model: record.model_id,
    policyVersion: BigInt(record.policy_version ?? 0),
    proposalId: BigInt(record.proposal_id ?? 0),
    admitted: record.admitted,
    reasonCode: record.reason_code ?? "",
    outcome: record.outcome,
    promptTokens: BigInt(record.prompt_tokens ?? 0),
    completionTokens: BigInt(record.completion_tokens ?? 0),
    chargedTokens: BigInt(record.tokens_used),
    budgetSource: budgetSource(record),
    epochStart: BigInt(record.epoch_start ?? 0),
    decidedAt,
    settledAt: record.settled_at === null ? decidedAt : BigInt(record.settled_at.getTime()),
    requestHash: record.request_hash ?? ZeroHash,
    responseHash: record.response_hash ?? ZeroHash,
  };
}

const WORD = 32;
const encoder = new TextEncoder();
const UINT64_MAX = 2n ** 64n - 1n;
const UINT256_MAX = 2n ** 256n - 1n;

function writeUint(out: Uint8Array, at: number, value: bigint, max: bigint, name: string): void {
  if (value < 0n || value > max) throw new RangeError(`receipt field ${name} is out of range: ${value}`);
  // Counts and times fit a double exactly: written without BigInt arithmetic, which costs most here.
  if (value <= 9_007_199_254_740_991n) {
    let v = Number(value);
    for (let i = at + WORD - 1; v > 0; i--) {
      out[i] = v % 256;
      v = Math.floor(v / 256);
    }
    return;
  }
  let v = value;
  for (let i = at + WORD - 1; v > 0n; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/**
 * abi.encode of the receipt's values, written directly (a generic ABI coder is several times slower, and
 * the anchoring job encodes every call of a period). test/receipts/encoding.test.ts pins it against
 * `@openzeppelin/merkle-tree`'s own encoder.
 */
export function encodeReceipt(receipt: Receipt): Uint8Array {
  const dynamic: { at: number; bytes: Uint8Array }[] = [];
  let tail = RECEIPT_FIELDS.length * WORD;
  for (const [i, [name, type]] of RECEIPT_FIELDS.entries()) {
    if (type === "string") {
      const bytes = encoder.encode(receipt[name] as string);
      dynamic.push({ at: i * WORD, bytes });
      tail += WORD + Math.ceil(bytes.length / WORD) * WORD;
    }
  }
  const out = new Uint8Array(tail);
  let offset = RECEIPT_FIELDS.length * WORD;
  let d = 0;
  for (const [i, [name, type]] of RECEIPT_FIELDS.entries()) {
    const at = i * WORD;
    const value = receipt[name];
    if (type === "string") {
      const { bytes } = dynamic[d++] as { bytes: Uint8Array };
      writeUint(out, at, BigInt(offset), UINT64_MAX, name);
      writeUint(out, offset, BigInt(bytes.length), UINT64_MAX, name);
      out.set(bytes, offset + WORD);
      offset += WORD + Math.ceil(bytes.length / WORD) * WORD;
    } else if (type === "address") {
      out.set(getBytes(value as string), at + 12);
    } else if (type === "bytes32") {
      out.set(getBytes(value as string), at);
    } else if (type === "bool") {
      out[at + WORD - 1] = value ? 1 : 0;
    } else {
      writeUint(out, at, value as bigint, type === "uint64" ? UINT64_MAX : UINT256_MAX, name);
    }
  }
  return out;
}

/** The receipt's Merkle leaf: keccak256(keccak256(abi.encode(values))), StandardMerkleTree's. */
export function receiptLeaf(receipt: Receipt): string {
  return keccak256(getBytes(keccak256(encodeReceipt(receipt))));
}
