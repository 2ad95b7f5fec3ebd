import { randomBytes, randomUUID } from "node:crypto";
import { type Provider, Wallet } from "ethers";
import { type Anchorer, createAnchorer } from "../../services/anchoring/anchorer.ts";
import type { Deployment } from "../../services/chain/deployment.ts";
import type { DatabaseHandle } from "../../services/db/connection.ts";
import { type DecisionRecord, recordDecision } from "../../services/db/gateway-decisions.ts";
import { hardhatAccounts } from "../../services/runtime/dev-accounts.ts";
import { createLogger } from "../../services/shared/logger.ts";

/** The development account the tests' deployments appoint as anchorer (as the development chain does). */
export const ANCHORER = hardhatAccounts(19)[18] as { address: string; privateKey: string };

export const PERIOD_MS = 60_000;

/** A settled audit record of a completed call, settled at `settledAt`. */
export function settledRecord(settledAt: Date, overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    request_id: `req_${randomUUID().replaceAll("-", "")}`,
    consumer: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
    api_key_id: null,
    endpoint: "chat",
    model_id: "commons-dev-1",
    purpose: "research",
    admitted: true,
    reason_code: null,
    policy_version: 1,
    proposal_id: "12345",
    source: "pool",
    source_id: "",
    epoch_start: 0,
    tokens_reserved: 100,
    tokens_used: 42,
    outcome: "COMPLETED",
    latency_ms: 5,
    overhead_ms: 1,
    created_at: new Date(settledAt.getTime() - 10),
    settled_at: settledAt,
    prompt_tokens: 10,
    max_tokens: null,
    choices: null,
    pool_epoch_start: null,
    pool_votes: null,
    decided_at: new Date(settledAt.getTime() - 10),
    // Drawn here rather than by the column's default, so that the tests compute the same receipts.
    receipt_salt: `0x${randomBytes(32).toString("hex")}`,
    ...overrides,
  };
}

/** `count` records settled within period `period`. */
export async function fillPeriod(database: DatabaseHandle, period: number, count: number): Promise<DecisionRecord[]> {
  const records = Array.from({ length: count }, (_, i) =>
    settledRecord(new Date(period * PERIOD_MS + 1 + i), { tokens_used: 10 + i }),
  );
  await recordDecision(database.db, records);
  return records;
}

/** An anchorer on `provider` whose clock is `now()`: ticks are driven by the test. */
export function anchorerOn(
  database: DatabaseHandle,
  provider: Provider,
  deployment: Deployment,
  now: () => number,
): Anchorer {
  return createAnchorer({
    database,
    provider,
    deployment,
    wallet: new Wallet(ANCHORER.privateKey, provider),
    periodMs: PERIOD_MS,
    delayMs: 0,
    uriBase: "http://receipts.test",
    confirmations: 0,
    now,
    logger: createLogger("silent"),
    intervalMs: 50,
  });
}
