/**
 * decide() alone on one core: decisions per second against a realistic snapshot (50 models with 20
 * blocked terms each, 1,000 consumers with grants) and a prompt of a few hundred characters.
 */

import { normalizeContent } from "../services/policy/content.ts";
import { decide } from "../services/policy/decide.ts";
import { MAX_SHADOWED_PROPOSALS, shadowDecisions, shadowsOf } from "../services/policy/shadow.ts";
import { buildSnapshot } from "../services/policy/snapshot.ts";
import type { ConsumerUsage, DecisionRequest } from "../services/policy/types.ts";
import { runBench } from "./harness.ts";

const MODELS = 50;
const CONSUMERS = 1_000;
const ITERATIONS = 5_000_000;
const SHADOW_ITERATIONS = 500_000;

export default async function decisionBench() {
  return runBench("decision", async (log) => {
    const now = Date.now();
    const snapshot = buildSnapshot(
      {
        policies: Array.from({ length: MODELS }, (_, m) => ({
          model_id: `model-${m}`,
          version: 3,
          approved: true,
          suspended: m % 10 === 9,
          suspend_reason: null,
          suspended_until: null,
          suspended_by: null,
          max_tokens_per_request: 4096,
          requests_per_minute: 600,
          allowed_purposes: ["research", "education", "accessibility"],
          blocked_terms: Array.from({ length: 20 }, (_, i) => `blocked-term-${m}-${i}`),
          guideline_uri: "ipfs://guideline",
          guideline_hash: `0x${"ab".repeat(32)}`,
          proposal_id: "1",
          block_number: 1,
          block_time: 1,
          tx_hash: "0x",
          log_index: 0,
        })),
        grants: Array.from({ length: CONSUMERS }, (_, c) => ({
          grant_id: String(c + 1),
          grantee: `0x${c.toString(16).padStart(40, "0")}`,
          model_id: c % 3 === 0 ? `model-${c % MODELS}` : "",
          tokens_per_epoch: "1000000",
          start_time: 0,
          end_time: 4_000_000_000,
          revoked: false,
          proposal_id: "2",
          block_number: 2,
          block_time: 2,
          tx_hash: "0x",
          revoked_proposal_id: null,
          revoked_block: null,
          revoked_tx: null,
        })),
        pool: {
          block_number: 1,
          log_index: 0,
          allowance_per_address: "2000",
          pool_size_per_epoch: "1000000",
          epoch_length: 86_400,
          proposal_id: null,
          block_time: 1,
          tx_hash: "0x",
        },
        poolEligibility: null,
        checkpoint: {
          id: "main",
          chain_id: 1,
          block_number: 10,
          block_hash: "0x",
          block_time: 1,
          head_block: 10,
          total_supply: "0",
          last_error: null,
          last_error_at: null,
          updated_at: new Date(now),
        },
      },
      { defaultMaxTokens: 256, maxStalenessMs: 60_000, allowStale: false },
    );
    const prompt = normalizeContent(
      "Please summarise the main arguments for community governance of shared AI infrastructure, " +
        "with attention to budgets, accountability, reproducibility of decisions and the role of public " +
        "audit trails. Keep it short and cite the policy versions that apply. ".repeat(2),
    );
    // A mix: mostly admitted calls, some refused at each stage.
    const requests: DecisionRequest[] = Array.from({ length: 64 }, (_, i) => ({
      consumer: i % 31 === 0 ? null : `0x${((i * 37) % CONSUMERS).toString(16).padStart(40, "0")}`,
      modelId: `model-${i % MODELS}`,
      purpose: i % 17 === 0 ? "gaming" : "research",
      content: i % 23 === 0 ? `${prompt} blocked-term-${i % MODELS}-3` : prompt,
      promptTokens: 120,
      maxTokens: i % 5 === 0 ? null : 512,
      poolStanding: null,
    }));
    const usage: ConsumerUsage = {
      requestsThisMinute: 3,
      grantSpent: new Map([["grant:38", 5_000]]),
      poolSpent: 100,
      poolTotalSpent: 50_000,
    };

    let admitted = 0;
    for (let i = 0; i < 200_000; i++)
      if (decide(snapshot, requests[i & 63] as DecisionRequest, usage, now).admitted) admitted++;
    log(`warm-up done (${admitted} admitted); measuring ${ITERATIONS.toLocaleString()} decisions`);
    admitted = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++)
      if (decide(snapshot, requests[i & 63] as DecisionRequest, usage, now).admitted) admitted++;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const perSecond = ITERATIONS / seconds;

    // Shadow mode's work per call on the gateway's hot path: the call decided again under each queued
    // proposal's policies and the record's shadow entry built (policy/shadow.ts), with the most proposals
    // the gateway shadows at once, each changing a model's limits.
    const shadows = shadowsOf(
      { policies: snapshot, governor: {}, guardian: {}, nextGrantId: BigInt(CONSUMERS + 1) },
      Array.from({ length: MAX_SHADOWED_PROPOSALS }, (_, p) => ({
        proposalId: String(100 + p),
        eta: p,
        actions: [
          {
            kind: "SET_MODEL_POLICY" as const,
            modelId: `model-${p}`,
            approved: true,
            maxTokensPerRequest: 256,
            requestsPerMinute: 60,
            allowedPurposes: ["research"],
            blockedTerms: [],
            guidelineUri: "ipfs://guideline-2",
            guidelineHash: `0x${"cd".repeat(32)}`,
          },
        ],
      })),
    );
    const noFailure = () => {};
    const shadowStarted = process.hrtime.bigint();
    let recorded = 0;
    for (let i = 0; i < SHADOW_ITERATIONS; i++) {
      const request = requests[i & 63] as DecisionRequest;
      const entry = shadowDecisions(shadows, (policies) => decide(policies, request, usage, now), noFailure);
      if (entry !== null) recorded++;
    }
    const shadowNs = Number(process.hrtime.bigint() - shadowStarted) / SHADOW_ITERATIONS;
    return {
      rows: [
        {
          metric: "decisions per second (one core)",
          value: Math.round(perSecond),
          unit: "1/s",
          target: "≥ 1,000,000",
          met: perSecond >= 1_000_000,
        },
        { metric: "time per decision", value: (seconds / ITERATIONS) * 1e9, unit: "ns" },
        { metric: "share admitted", value: admitted / ITERATIONS, unit: "ratio" },
        {
          metric: `shadow mode's work per call, ${MAX_SHADOWED_PROPOSALS} queued proposals`,
          value: shadowNs,
          unit: "ns",
        },
        {
          metric: "shadow mode's work per call, per queued proposal",
          value: shadowNs / MAX_SHADOWED_PROPOSALS,
          unit: "ns",
        },
      ],
      notes: [
        `${MODELS} models × 20 blocked terms, ${CONSUMERS} consumers with grants, ${prompt.length}-character prompt`,
        `shadow entries recorded: ${recorded}; the gateway's share is this figure times its calls per second (bench/gateway.bench.ts measures the throughput ratio)`,
      ],
    };
  });
}
