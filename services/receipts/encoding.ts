import { getAddress, hexlify, ZeroAddress, ZeroHash } from "ethers";
import { keccak256, keccak256Into } from "#keccak";

/**
 * A usage receipt: one settled gateway call (admitted or refused). Its encoding is fixed (docs/interfaces.md,
 * "Usage receipts") and comes in two parts, so that a period's file can be public without naming anyone:
 *
 * - the sealed part: what identifies the consumer and the call (who, which call, when, which budget, the
 *   bodies' hashes), committed as `sealed = keccak256(abi.encode(SEALED_FIELDS))` with a random 32-byte salt
 *   of its own (gateway_decisions.receipt_salt, migration 0025), so the commitment cannot be matched against
 *   guessed consumers or request ids. Only the receipt's owner and the operators see these values and the salt.
 * - the leaf: `sealed` and what the community counts (model, policy, decision, tokens charged, epoch), as the
 *   `@openzeppelin/merkle-tree` StandardMerkleTree leaf of LEAF_FIELDS, keccak256(keccak256(abi.encode(...))),
 *   which OpenZeppelin's MerkleProof.verify checks on chain. A period's file publishes these values only.
 *
 * Changing a field or its order is a new receipt format: never edit these lists in place.
 */
/** This encoding's number, stored with each period built with it (usage_periods.format; 1 named consumers). */
export const RECEIPT_FORMAT = 2;

export const SEALED_FIELDS = [
  ["salt", "bytes32"],
  ["requestId", "string"],
  ["consumer", "address"],
  ["budgetSource", "string"],
  ["promptTokens", "uint64"],
  ["completionTokens", "uint64"],
  ["decidedAt", "uint64"],
  ["settledAt", "uint64"],
  ["requestHash", "bytes32"],
  ["responseHash", "bytes32"],
] as const;

/** The public values of a receipt, after `sealed` in its leaf. */
export const PUBLIC_FIELDS = [
  ["model", "string"],
  ["policyVersion", "uint64"],
  ["proposalId", "uint256"],
  ["admitted", "bool"],
  ["reasonCode", "string"],
  ["outcome", "string"],
  ["chargedTokens", "uint64"],
  ["epochStart", "uint64"],
] as const;

export const LEAF_FIELDS = [["sealed", "bytes32"], ...PUBLIC_FIELDS] as const;

/** Every value of a whole receipt, as its owner reads it. */
export const RECEIPT_FIELDS = [...SEALED_FIELDS, ...PUBLIC_FIELDS] as const;

type FieldType = "string" | "address" | "bytes32" | "bool" | "uint64" | "uint256";
type Fields = readonly (readonly [string, FieldType])[];

export type ReceiptField = (typeof RECEIPT_FIELDS)[number][0];
export type PublicReceiptField = (typeof LEAF_FIELDS)[number][0];

/** The Solidity types of a leaf's values, in order: the StandardMerkleTree's leaf encoding. */
export const RECEIPT_TYPES: string[] = LEAF_FIELDS.map(([, type]) => type);
export const SEALED_TYPES: string[] = SEALED_FIELDS.map(([, type]) => type);

/** What a period's file shows of a receipt: what its leaf encodes, nothing that names a consumer. */
export interface PublicReceipt {
  /** keccak256(abi.encode(the sealed values)): hides the consumer, the request, its times and budget. */
  sealed: string;
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
  /** What the call was charged (its budget's tokens). */
  chargedTokens: bigint;
  /** The epoch (unix seconds) the call was charged in; 0 for a refusal before one was chosen. */
  epochStart: bigint;
}

/** A whole receipt: its owner's and the operators' view. */
export interface Receipt extends Omit<PublicReceipt, "sealed"> {
  /** 32 random bytes of this receipt alone (0x-hex): what keeps `sealed` from being guessed. */
  salt: string;
  requestId: string;
  /** Checksummed; the zero address for a call refused before its key named anyone. */
  consumer: string;
  /** The budget account charged: `grant:<id>`, `pool`, or "" for a refusal. */
  budgetSource: string;
  promptTokens: bigint;
  completionTokens: bigint;
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

type Values = Record<string, string | bigint | boolean | Uint8Array>;

function toJson(fields: Fields, values: Values): Record<string, string | boolean> {
  return Object.fromEntries(
    fields.map(([name]) => {
      const value = values[name];
      return [name, typeof value === "bigint" ? value.toString() : (value as string | boolean)];
    }),
  );
}

function fromJson(fields: Fields, json: Record<string, unknown>): Values {
  return Object.fromEntries(
    fields.map(([name, type]) => {
      const value = json[name];
      if (value === undefined || value === null) throw new RangeError(`a receipt has no ${name}`);
      if (type.startsWith("uint")) return [name, BigInt(value as string | number | bigint)];
      if (type === "bool") return [name, value === true || value === "true"];
      if (type === "address") return [name, getAddress(String(value))];
      return [name, String(value)];
    }),
  );
}

/** The receipt as JSON (integers as decimal strings): the API's and `commons verify`'s form. */
export const receiptToJson = (receipt: Receipt) =>
  toJson(RECEIPT_FIELDS, receipt as unknown as Values) as Record<ReceiptField, string | boolean>;
export const receiptFromJson = (json: Record<string, unknown>) => fromJson(RECEIPT_FIELDS, json) as unknown as Receipt;
/** The public receipt as JSON: the form of a period's file. */
export const publicReceiptToJson = (receipt: PublicReceipt) =>
  toJson(LEAF_FIELDS, receipt as unknown as Values) as Record<PublicReceiptField, string | boolean>;
export const publicReceiptFromJson = (json: Record<string, unknown>) =>
  fromJson(LEAF_FIELDS, json) as unknown as PublicReceipt;

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
  receipt_salt: string;
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
    salt: record.receipt_salt,
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
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function writeUint(view: DataView, at: number, value: bigint, max: bigint, name: string): void {
  if (value < 0n || value > max) throw new RangeError(`receipt field ${name} is out of range: ${value}`);
  // Counts and times fit a double exactly: written as two 32-bit halves, without BigInt arithmetic.
  if (value <= MAX_SAFE) {
    const v = Number(value);
    view.setUint32(at + WORD - 8, Math.floor(v / 0x1_0000_0000));
    view.setUint32(at + WORD - 4, v >>> 0);
    return;
  }
  let v = value;
  for (let i = at + WORD - 1; v > 0n; i--) {
    view.setUint8(i, Number(v & 0xffn));
    v >>= 8n;
  }
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX["0123456789abcdef".charCodeAt(i)] = i;
  HEX["0123456789ABCDEF".charCodeAt(i)] = i;
}

/** 0x-hex of exactly `length` bytes, written at `at` (no intermediate array: this runs per receipt). */
function writeHex(out: Uint8Array, at: number, hex: string, length: number, name: string): void {
  if (hex.length !== 2 + 2 * length || hex[0] !== "0" || (hex[1] !== "x" && hex[1] !== "X")) {
    throw new RangeError(`receipt field ${name} is not ${length} bytes of 0x-hex`);
  }
  for (let i = 0; i < length; i++) {
    const high = HEX[hex.charCodeAt(2 + 2 * i)] ?? -1;
    const low = HEX[hex.charCodeAt(3 + 2 * i)] ?? -1;
    if (high < 0 || low < 0) throw new RangeError(`receipt field ${name} is not 0x-hex`);
    out[at + i] = high * 16 + low;
  }
}

// One buffer for every encoding, grown as needed: the anchoring job encodes every call of a period in a row,
// and allocations there cost more in garbage collection than the encoding itself.
let scratch = new Uint8Array(4096);
let scratchView = new DataView(scratch.buffer);

/** UTF-8 of `text` at `at`; the number of bytes written. ASCII (ids, models, codes) without an encoder call. */
function writeString(out: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return encoder.encodeInto(text, out.subarray(at)).written;
    out[at + i] = code;
  }
  return text.length;
}

/**
 * abi.encode of `values` of `fields`, written directly into bytes (a generic ABI coder is several times slower).
 * The result is a view of a shared buffer, valid until the next call: hash it at once.
 * test/receipts/encoding.test.ts pins it against ethers' AbiCoder.
 */
function encode(fields: Fields, values: Values): Uint8Array {
  let size = fields.length * WORD;
  for (let i = 0; i < fields.length; i++) {
    const [name, type] = fields[i] as Fields[number];
    // At most 3 UTF-8 bytes per UTF-16 unit: room for any string, trimmed to what was written below.
    if (type === "string") size += WORD + Math.ceil((3 * (values[name] as string).length) / WORD) * WORD;
  }
  if (scratch.length < size) {
    scratch = new Uint8Array(2 * size);
    scratchView = new DataView(scratch.buffer);
  }
  const out = scratch;
  const view = scratchView;
  out.fill(0, 0, size);
  let offset = fields.length * WORD;
  for (let i = 0; i < fields.length; i++) {
    const [name, type] = fields[i] as Fields[number];
    const at = i * WORD;
    const value = values[name];
    if (type === "string") {
      const written = writeString(out, offset + WORD, value as string);
      view.setUint32(at + WORD - 4, offset);
      view.setUint32(offset + WORD - 4, written);
      offset += WORD + Math.ceil(written / WORD) * WORD;
    } else if (type === "address") {
      writeHex(out, at + 12, value as string, 20, name);
    } else if (type === "bytes32") {
      if (value instanceof Uint8Array) out.set(value, at);
      else writeHex(out, at, value as string, 32, name);
    } else if (type === "bool") {
      out[at + WORD - 1] = value ? 1 : 0;
    } else {
      writeUint(view, at, value as bigint, type === "uint64" ? UINT64_MAX : UINT256_MAX, name);
    }
  }
  // Bytes a string's reservation did not use stay zero (filled above): they are the next word's or past the end.
  return out.subarray(0, offset);
}

/** abi.encode of a receipt's sealed values, and of a public receipt's leaf values. */
export const encodeSealed = (receipt: Receipt): Uint8Array => encode(SEALED_FIELDS, receipt as unknown as Values);
export const encodeLeaf = (receipt: PublicReceipt): Uint8Array => encode(LEAF_FIELDS, receipt as unknown as Values);

/** The leaf's values of a receipt, with its sealed commitment as hex or as bytes. */
function leafOf<T extends string | Uint8Array>(receipt: Receipt, sealed: T) {
  return {
    sealed,
    model: receipt.model,
    policyVersion: receipt.policyVersion,
    proposalId: receipt.proposalId,
    admitted: receipt.admitted,
    reasonCode: receipt.reasonCode,
    outcome: receipt.outcome,
    chargedTokens: receipt.chargedTokens,
    epochStart: receipt.epochStart,
  };
}

/** What a period's file shows of a receipt: the sealed commitment and the public values. */
export const publicReceiptOf = (receipt: Receipt): PublicReceipt =>
  leafOf(receipt, hexlify(keccak256(encodeSealed(receipt))));

/** The leaf's values in RECEIPT_TYPES order, as `@openzeppelin/merkle-tree` takes them. */
export function leafValues(receipt: PublicReceipt): unknown[] {
  return LEAF_FIELDS.map(([name]) => receipt[name]);
}

/** A whole receipt's leaf values (its sealed commitment computed). */
export const receiptValues = (receipt: Receipt): unknown[] => leafValues(publicReceiptOf(receipt));

/** A public receipt's Merkle leaf as bytes: keccak256(keccak256(abi.encode(leaf values))), StandardMerkleTree's. */
export function leafBytes(receipt: PublicReceipt): Uint8Array {
  return keccak256(keccak256(encodeLeaf(receipt)));
}

// The intermediate hashes of receiptLeafBytes, reused: only the leaf itself is kept.
const sealedBytes = new Uint8Array(32);
const inner = new Uint8Array(32);

/** A whole receipt's leaf as bytes, its commitment kept as bytes throughout (the anchoring job's path). */
export function receiptLeafBytes(receipt: Receipt): Uint8Array {
  keccak256Into(encodeSealed(receipt), sealedBytes, 0);
  keccak256Into(encode(LEAF_FIELDS, leafOf(receipt, sealedBytes)), inner, 0);
  return keccak256(inner);
}

/** A whole receipt's leaf (0x-hex). */
export const receiptLeaf = (receipt: Receipt): string => hexlify(receiptLeafBytes(receipt));
/** A public receipt's leaf (0x-hex). */
export const publicLeaf = (receipt: PublicReceipt): string => hexlify(leafBytes(receipt));
