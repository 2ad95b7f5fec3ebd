/**
 * Usage receipts: audit records turned into receipts, hashed and built into a period's Merkle tree, per
 * second on one core (what the anchoring job does once per period, off the request path). Beside it, the
 * same work through `@openzeppelin/merkle-tree`'s StandardMerkleTree.of as the reference (same root), and the
 * floor under both: the keccak256 a receipt needs alone, ours and @noble/hashes' (what ethers uses).
 */
import { keccak_256 } from "@noble/hashes/sha3";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { responseHasher } from "../services/gateway/body-hash.ts";
import { type AuditRecord, RECEIPT_TYPES, receiptOf, receiptValues } from "../services/receipts/encoding.ts";
import { keccak256 } from "../services/receipts/keccak.ts";
import { buildPeriod } from "../services/receipts/period.ts";
import { runBench } from "./harness.ts";

const RECEIPTS = 100_000;
const REFERENCE = 5_000;
/** What a receipt hashes: its sealed part and its leaf (~450 bytes each), the leaf again, and a tree node. */
const HASHED = [448, 480, 32, 64].map((length) => new Uint8Array(length).fill(7));

/** A call's bodies as the gateway bench sends and its upstream answers (the request path's only receipt work). */
const CALL_BODIES = [
  JSON.stringify({
    model: "bench-model",
    messages: [{ role: "user", content: "Summarise the commons in one line." }],
    max_tokens: 16,
  }),
  JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: 1_764_720_000,
    model: "bench-model",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: "A commons is governed by those who use it." },
        finish_reason: "stop",
      },
    ],
    usage: { prompt_tokens: 14, completion_tokens: 11, total_tokens: 25 },
  }),
];

/** Microseconds of CPU a call's receipt costs on the request path: the sha256 of its request and of its answer. */
function requestPathMicros(count: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    for (const body of CALL_BODIES) {
      const hasher = responseHasher(true);
      hasher.update(body);
      hasher.digest();
    }
  }
  return Number(process.hrtime.bigint() - started) / 1e3 / count;
}

/** Receipts per second that `hash` alone allows (the hashing floor of one receipt). */
function hashingPerSecond(hash: (data: Uint8Array) => Uint8Array, count: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) for (const data of HASHED) hash(data);
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

function records(count: number): AuditRecord[] {
  const at = Date.UTC(2026, 11, 3, 12);
  return Array.from({ length: count }, (_, i) => ({
    request_id: `req_${i.toString(16).padStart(32, "0")}`,
    consumer: `0x${((i * 7919) % 5_000).toString(16).padStart(40, "0")}`,
    model_id: `model-${i % 20}`,
    policy_version: 3,
    proposal_id: "71894324418711734102093232717436224219934236436284069843393937296424153024567",
    admitted: i % 10 !== 0,
    reason_code: i % 10 === 0 ? "BUDGET_EXHAUSTED" : null,
    outcome: i % 10 === 0 ? "REFUSED" : "COMPLETED",
    prompt_tokens: 120,
    completion_tokens: 200,
    tokens_used: i % 10 === 0 ? 0 : 320,
    source: i % 10 === 0 ? null : i % 3 === 0 ? "grant" : "pool",
    source_id: i % 3 === 0 ? String(i % 50) : "",
    epoch_start: 1_764_720_000,
    decided_at: new Date(at + i),
    created_at: new Date(at + i),
    settled_at: new Date(at + i + 800),
    request_hash: `0x${"ab".repeat(32)}`,
    response_hash: `0x${"cd".repeat(32)}`,
    receipt_salt: `0x${(i + 1).toString(16).padStart(64, "0")}`,
  }));
}

export default async function receiptsBench() {
  return runBench("receipts", async (log) => {
    const all = records(RECEIPTS);
    buildPeriod(all.slice(0, 5_000)); // warm-up
    log(`measuring ${RECEIPTS.toLocaleString()} receipts`);
    let started = process.hrtime.bigint();
    const period = buildPeriod(all);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const perSecond = RECEIPTS / seconds;

    const sample = all.slice(0, REFERENCE);
    started = process.hrtime.bigint();
    const reference = StandardMerkleTree.of(sample.map(receiptOf).map(receiptValues), RECEIPT_TYPES);
    const referenceSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const referencePerSecond = REFERENCE / referenceSeconds;
    if (reference.root !== buildPeriod(sample).tree.root) throw new Error("the reference built another root");
    hashingPerSecond(keccak256, 2_000); // warm-up
    hashingPerSecond(keccak_256, 2_000);
    requestPathMicros(5_000); // warm-up
    const onRequestPath = requestPathMicros(50_000);
    const oursFloor = hashingPerSecond(keccak256, 20_000);
    const nobleFloor = hashingPerSecond(keccak_256, 20_000);
    return {
      rows: [
        {
          metric: "receipts hashed and built into a tree per second (one core)",
          value: Math.round(perSecond),
          unit: "1/s",
          target: "≥ 100,000",
          met: perSecond >= 100_000,
        },
        {
          metric: "StandardMerkleTree.of, the reference, per second",
          value: Math.round(referencePerSecond),
          unit: "1/s",
        },
        { metric: "speed-up over the reference", value: perSecond / referencePerSecond, unit: "ratio" },
        {
          metric: "floor: a receipt's keccak256 alone per second (hash-wasm, services/receipts/keccak.ts)",
          value: Math.round(oursFloor),
          unit: "1/s",
        },
        {
          metric: "floor with @noble/hashes' keccak_256 instead",
          value: Math.round(nobleFloor),
          unit: "1/s",
        },
        { metric: "receipts in the period", value: period.tree.count, unit: "receipts" },
        {
          metric: "request path: a call's body hashes (sha256 of request and answer), CPU per call",
          value: onRequestPath,
          unit: "µs",
        },
      ],
      notes: [
        "a receipt is two ABI encodings of ~450 bytes (its sealed part, its leaf): three keccak256 (sealed, the leaf twice) plus one per tree node, about ten Keccak-f permutations; the floor rows time those alone",
        "gateway throughput with receipts on vs off (their body hashes, the only work on the request path): npm run bench gateway",
      ],
    };
  });
}
