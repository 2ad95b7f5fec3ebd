import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Insertable, Kysely } from "kysely";
import OpenAI from "openai";
import { type Action, encodeAction } from "../chain/actions.ts";
import type { Deployment } from "../chain/contracts.ts";
import { type DatabaseHandle, openDatabase } from "../db/connection.ts";
import type { PolicyVersionsTable } from "../db/index-tables.ts";
import { migrateToLatest } from "../db/migrate.ts";
import type { Database } from "../db/schema.ts";
import gatewayPlugin from "../gateway/plugin.ts";
import { createUpstream, type Upstream } from "../gateway/upstream.ts";
import { GOVERNANCE_CHANNEL, POLICY_CHANNEL } from "../indexer/notifications.ts";
import { loadConfig } from "../shared/config.ts";
import { createLogger, type Logger } from "../shared/logger.ts";
import { createMetrics, type Metrics } from "../shared/metrics.ts";

type Teardown = { teardown(fn: () => unknown): void };

/** Opens `url` (a createTestDatabase database) with the schema migrated; closed on teardown. */
/** The chat call the gateway benchmarks send, each in the same words: a one-line prompt, a small completion bound. */
export const BENCH_CHAT_BODY = JSON.stringify({
  model: "bench-model",
  messages: [{ role: "user", content: "Summarise the commons in one line." }],
  max_tokens: 16,
});

export async function openMigrated(t: Teardown, url: string, poolSize = 10): Promise<DatabaseHandle> {
  const database = await openDatabase({ url, poolSize });
  t.teardown(() => database.close());
  await migrateToLatest(database.db);
  return database;
}

export interface GatewayApp {
  app: FastifyInstance;
  baseURL: string;
  database: DatabaseHandle;
  /** The upstream the test made (null: the gateway made its own from UPSTREAMS). */
  upstream: Upstream | null;
  metrics: Metrics;
  client(apiKey: string, options?: { purpose?: string; maxRetries?: number; fetch?: typeof fetch }): OpenAI;
}

/**
 * A fastify app with only the gateway plugin, listening on a real port, its upstream pointed at
 * `upstreamUrl` (the test upstream) through the real undici client, or, when `env` sets UPSTREAMS, the
 * providers it lists (the plugin makes them, as in production); closed on teardown.
 */
export async function buildGateway(
  t: Teardown,
  o: {
    database: DatabaseHandle;
    upstreamUrl?: string;
    env?: Record<string, string>;
    now?: () => number;
    /** The app's and the gateway's logger (silent by default). */
    logger?: Logger;
    /** The contracts queued proposals' calls are read against (shadow mode); none: nothing is shadowed. */
    deployment?: Deployment;
  },
): Promise<GatewayApp> {
  const config = loadConfig({ LOG_LEVEL: "silent", UPSTREAM_TIMEOUT_MS: "2000", ...o.env });
  const upstream = config.upstreams
    ? null
    : createUpstream({ url: o.upstreamUrl, timeoutMs: config.UPSTREAM_TIMEOUT_MS });
  const logger = o.logger ?? createLogger("silent");
  const metrics = createMetrics();
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
  await app.register(gatewayPlugin, {
    deps: {
      config,
      logger,
      database: o.database,
      metrics,
      now: o.now ?? Date.now,
      ...(o.deployment ? { deployment: o.deployment } : {}),
    },
    ...(upstream ? { upstream } : {}),
  });
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  t.teardown(async () => {
    await app.close();
    await upstream?.close();
  });
  const baseURL = `${address}/v1`;
  return {
    app,
    baseURL,
    database: o.database,
    upstream,
    metrics,
    client: (apiKey, options = {}) =>
      new OpenAI({
        apiKey,
        baseURL,
        maxRetries: options.maxRetries ?? 0,
        defaultHeaders: options.purpose ? { "x-commons-purpose": options.purpose } : {},
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
  };
}

/** A model policy row as the indexer writes it. */
export function policyRow(modelId: string, overrides: Partial<Insertable<PolicyVersionsTable>> = {}) {
  return {
    model_id: modelId,
    version: 1,
    approved: true,
    suspended: false,
    suspend_reason: null,
    max_tokens_per_request: 256,
    requests_per_minute: 1000,
    allowed_purposes: ["research", "education"],
    blocked_terms: ["Forbidden-Term"],
    guideline_uri: `ipfs://guidelines/${modelId}`,
    guideline_hash: `0x${"ab".repeat(32)}`,
    proposal_id: "1234567890123456789012345678901234567890",
    block_number: 10,
    block_time: 1_700_000_000,
    tx_hash: `0x${"cd".repeat(32)}`,
    log_index: 0,
    ...overrides,
  };
}

/**
 * Writes index rows directly (the real database, as the indexer would) and tells the gateway's
 * snapshot about it the way the indexer does, on commons_policy.
 */
export async function seedIndex(
  database: DatabaseHandle,
  rows: {
    policies?: ReturnType<typeof policyRow>[];
    grants?: { grantId: number; grantee: string; modelId?: string; tokensPerEpoch: number }[];
    pool?: { allowancePerAddress: number; poolSizePerEpoch: number; epochLength?: number };
    heartbeatAt?: Date;
  },
) {
  const db: Kysely<Database> = database.db;
  if (rows.policies?.length) await db.insertInto("policy_versions").values(rows.policies).execute();
  for (const g of rows.grants ?? []) {
    await db
      .insertInto("grants")
      .values({
        grant_id: String(g.grantId),
        grantee: g.grantee,
        model_id: g.modelId ?? "",
        tokens_per_epoch: String(g.tokensPerEpoch),
        start_time: 0,
        end_time: 4_000_000_000,
        revoked: false,
        proposal_id: "77",
        block_number: 11,
        block_time: 1_700_000_001,
        tx_hash: `0x${"ef".repeat(32)}`,
      })
      .execute();
  }
  if (rows.pool) {
    const latest = await db
      .selectFrom("community_pool_versions")
      .select((eb) => eb.fn.max("block_number").as("block"))
      .executeTakeFirst();
    await db
      .insertInto("community_pool_versions")
      .values({
        block_number: Number(latest?.block ?? 0) + 1,
        log_index: 0,
        allowance_per_address: String(rows.pool.allowancePerAddress),
        pool_size_per_epoch: String(rows.pool.poolSizePerEpoch),
        epoch_length: rows.pool.epochLength ?? 86_400,
        proposal_id: null,
        block_time: 1_700_000_000,
        tx_hash: `0x${"aa".repeat(32)}`,
      })
      .execute();
  }
  await db
    .insertInto("indexer_checkpoint")
    .values({
      id: "main",
      chain_id: 31337,
      block_number: 20,
      block_hash: `0x${"bb".repeat(32)}`,
      block_time: 1_700_000_100,
      head_block: 20,
      total_supply: "0",
      last_error: null,
      last_error_at: null,
      updated_at: rows.heartbeatAt ?? new Date(),
    })
    .onConflict((oc) => oc.column("id").doUpdateSet({ updated_at: rows.heartbeatAt ?? new Date() }))
    .execute();
  await database.notify(POLICY_CHANNEL, JSON.stringify({ block: 20 }));
}

/** Contract addresses for gateways without a chain: queued proposals' calls are encoded and read against them. */
export const SEEDED_DEPLOYMENT: Deployment = {
  chainId: 31337,
  contracts: {
    token: `0x${"11".repeat(20)}`,
    timelock: `0x${"12".repeat(20)}`,
    governor: `0x${"13".repeat(20)}`,
    registry: `0x${"14".repeat(20)}`,
    allocator: `0x${"15".repeat(20)}`,
  },
  deployBlock: 0,
  deployedAt: "2026-01-01T00:00:00.000Z",
};

/**
 * Writes a proposal queued in the timelock (or, with `status`, already executed), its calls encoding `actions` against SEEDED_DEPLOYMENT, as the
 * indexer would, and announces it the way the indexer does (a gateway given that deployment shadows it).
 */
export async function seedQueuedProposal(
  database: DatabaseHandle,
  proposalId: string,
  actions: Action[],
  status: "QUEUED" | "EXECUTED" = "QUEUED",
) {
  const calls = actions.map((a) => encodeAction(SEEDED_DEPLOYMENT.contracts, a));
  await database.db
    .insertInto("proposals")
    .values({
      id: proposalId,
      proposer: SEEDED_DEPLOYMENT.contracts.token,
      description: `seeded ${proposalId}`,
      description_hash: `0x${"00".repeat(32)}`,
      targets: JSON.stringify(calls.map((c) => c.target)),
      values: JSON.stringify(calls.map((c) => c.value.toString())),
      calldatas: JSON.stringify(calls.map((c) => c.calldata)),
      operation_id: `0x${"00".repeat(32)}`,
      actions: JSON.stringify([]),
      kinds: actions.map((a) => a.kind),
      vote_start: 1,
      vote_end: 2,
      eta: 3,
      status,
      for_votes: "1",
      against_votes: "0",
      abstain_votes: "0",
      quorum: "1",
      created_block: 1,
      created_time: 1,
      created_tx: `0x${"00".repeat(32)}`,
      created_log_index: 0,
      updated_block: 1,
    })
    .execute();
  await database.notify(GOVERNANCE_CHANNEL, JSON.stringify({ type: "proposal", proposalId }));
}
