import fc from "fast-check";
import { normalizeContent } from "../../services/policy/content.ts";
import { buildSnapshot } from "../../services/policy/snapshot.ts";
import type { ConsumerUsage, DecisionRequest, PolicySnapshot } from "../../services/policy/types.ts";

/** Two consumers, three models and a handful of terms/purposes, so that arbitrary picks often collide. */
export const consumers = ["0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222"];
export const modelIds = ["m-a", "m-b", "m-c"];
export const purposes = ["research", "education", "Commerce"];
export const terms = ["secret", "Exploit", "weapon"];
const NOW = 1_800_000_000_000;
/** Starts of the epochs `nowArb` falls in, for each epoch length the snapshots use, and one older epoch. */
const epochStarts = [1_800_000_000, 1_799_999_940, 1_799_996_400, 1_799_971_200, 1_799_884_800];

/** `value` four times in five, its opposite otherwise. */
const mostly = (value: boolean) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(value) }, { weight: 1, arbitrary: fc.constant(!value) });

const policyRow = (modelId: string) =>
  fc.record({
    model_id: fc.constant(modelId),
    version: fc.integer({ min: 1, max: 9 }),
    // Mostly callable models, so that properties about admitted calls see many of them.
    approved: mostly(true),
    suspended: mostly(false),
    suspend_reason: fc.constant("review"),
    // A vote's suspension (null), or a guardian's that lapses around now (nowArb is NOW ± 1 s, in ms).
    suspended_until: fc.option(fc.constantFrom(NOW / 1000 - 1, NOW / 1000, NOW / 1000 + 1), { nil: null }),
    suspended_by: fc.constant(null),
    max_tokens_per_request: fc.integer({ min: 1, max: 400 }),
    requests_per_minute: fc.integer({ min: 1, max: 8 }),
    allowed_purposes: fc.oneof({ weight: 2, arbitrary: fc.constant<string[]>([]) }, fc.subarray(purposes)),
    blocked_terms: fc.oneof({ weight: 2, arbitrary: fc.constant<string[]>([]) }, fc.subarray(terms)),
    guideline_uri: fc.constant("ipfs://g"),
    guideline_hash: fc.constant(`0x${"ab".repeat(32)}`),
    proposal_id: fc.constant("42"),
    block_number: fc.constant(10),
    block_time: fc.constant(1000),
    tx_hash: fc.constant("0xtx"),
    log_index: fc.constant(0),
  });

const grantRow = fc.record({
  grant_id: fc.integer({ min: 1, max: 50 }).map(String),
  grantee: fc.constantFrom(...consumers),
  model_id: fc.constantFrom("", ...modelIds),
  tokens_per_epoch: fc.integer({ min: 1, max: 1000 }).map(String),
  start_time: fc.integer({ min: NOW / 1000 - 100, max: NOW / 1000 + 100 }),
  end_time: fc.integer({ min: NOW / 1000 - 50, max: NOW / 1000 + 10_000 }),
  revoked: fc.constant(false),
  proposal_id: fc.constant("7"),
  block_number: fc.constant(11),
  block_time: fc.constant(1001),
  tx_hash: fc.constant("0xg"),
  revoked_proposal_id: fc.constant(null),
  revoked_block: fc.constant(null),
  revoked_tx: fc.constant(null),
});

export const snapshotArb: fc.Arbitrary<PolicySnapshot> = fc
  .record({
    policies: fc
      .oneof({ weight: 3, arbitrary: fc.constant(modelIds) }, { weight: 1, arbitrary: fc.subarray(modelIds) })
      .chain((ids) => fc.tuple(...ids.map(policyRow))),
    grants: fc.uniqueArray(grantRow, { selector: (g) => g.grant_id, maxLength: 4 }),
    allowance: fc.integer({ min: 0, max: 800 }),
    poolExtra: fc.integer({ min: 0, max: 2000 }),
    epochLength: fc.constantFrom(60, 3600, 86_400),
    heartbeatAge: fc.option(
      fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 59_000 }) }, fc.integer({ min: 0, max: 120_000 })),
      { nil: null, freq: 8 },
    ),
    allowStale: fc.boolean(),
    defaultMaxTokens: fc.integer({ min: 1, max: 300 }),
    minVotes: fc.option(fc.constantFrom(0n, 100n, 1000n), { nil: null }),
  })
  .map((r) =>
    buildSnapshot(
      {
        policies: r.policies,
        grants: r.grants,
        pool: {
          block_number: 1,
          log_index: 0,
          allowance_per_address: String(r.allowance),
          pool_size_per_epoch: String(r.allowance + r.poolExtra),
          epoch_length: r.epochLength,
          proposal_id: null,
          block_time: 1,
          tx_hash: "0xp",
        },
        poolEligibility:
          r.minVotes === null
            ? null
            : {
                block_number: 1,
                log_index: 1,
                min_votes: String(r.minVotes),
                proposal_id: null,
                block_time: 1,
                tx_hash: "0xe",
              },
        checkpoint:
          r.heartbeatAge === null
            ? null
            : {
                id: "main",
                chain_id: 1,
                block_number: 10,
                block_hash: "0xb",
                block_time: 1,
                head_block: 10,
                total_supply: "0",
                last_error: null,
                last_error_at: null,
                updated_at: new Date(NOW - r.heartbeatAge),
              },
      },
      { defaultMaxTokens: r.defaultMaxTokens, maxStalenessMs: 60_000, allowStale: r.allowStale },
    ),
  );

export const requestArb: fc.Arbitrary<DecisionRequest> = fc.record({
  consumer: fc.option(fc.constantFrom(...consumers), { nil: null, freq: 8 }),
  modelId: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...modelIds) }, fc.constant("m-unknown")),
  purpose: fc.option(fc.constantFrom(...purposes.map((p) => p.toLowerCase()), "gaming"), { nil: null }),
  content: fc
    .array(fc.constantFrom("hello", "world", ...terms), { maxLength: 4 })
    .map((words) => normalizeContent(words.join(" "))),
  promptTokens: fc.integer({ min: 1, max: 300 }),
  maxTokens: fc.option(fc.integer({ min: 1, max: 500 }), { nil: null }),
  choices: fc.oneof(
    { weight: 4, arbitrary: fc.constant(1) },
    fc.integer({ min: 1, max: 4 }),
    fc.integer({ min: 1, max: 500 }),
  ),
  poolStanding: fc.option(
    fc.record({ epochStart: fc.constantFrom(...epochStarts), votes: fc.constantFrom(0n, 99n, 100n, 5000n) }),
    { nil: null },
  ),
});

export const usageArb: fc.Arbitrary<ConsumerUsage> = fc.record({
  requestsThisMinute: fc.integer({ min: 0, max: 6 }),
  grantSpent: fc
    .array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 1000 })), { maxLength: 6 })
    .map((pairs) => new Map(pairs.map(([id, spent]) => [`grant:${id}`, spent]))),
  poolSpent: fc.integer({ min: 0, max: 800 }),
  poolTotalSpent: fc.integer({ min: 0, max: 2800 }),
});

export const nowArb = fc.integer({ min: NOW - 1000, max: NOW + 1000 });
