/**
 * The GraphQL API under load (autocannon): a page of 20 proposals with their tallies and states, and a
 * policyStatus, against real Postgres seeded with 10,000 proposals and 1,000,000 votes (bulk-inserted
 * with generate_series), in a fresh database of the TEST_DATABASE_URL server.
 */
import { loadavg } from "node:os";
import { id, JsonRpcProvider, Network, Wallet } from "ethers";
import Fastify from "fastify";
import { sql } from "kysely";
import apiPlugin from "../services/api/plugin.ts";
import { openDatabase } from "../services/db/connection.ts";
import { migrateToLatest } from "../services/db/migrate.ts";
import { createTestDatabase } from "../services/devkit/database.ts";
import { loadConfig } from "../services/shared/config.ts";
import { createLogger } from "../services/shared/logger.ts";
import { createMetrics } from "../services/shared/metrics.ts";
import { autocannon } from "./autocannon.ts";
import { type BenchRow, percentile, runBench } from "./harness.ts";

const PROPOSALS = 10_000;
const VOTES_PER_PROPOSAL = 100;
const SINGLE = { connections: 1, duration: 8 };
const MODERATE = { connections: 4, duration: 8 };
const SATURATION = { connections: 16, duration: 8 };

const pageQuery = `{ proposals(first: 20) { totalCount pageInfo { hasNextPage endCursor }
  edges { node { id proposer state kinds voteStart voteEnd
    tally { for against abstain voteCount quorum quorumReached majorityFor } } } } }`;

/** Fake but well-formed deployment addresses: the benchmarked queries never call the chain. */
const deployment = {
  chainId: 31337,
  contracts: {
    token: Wallet.createRandom().address,
    timelock: Wallet.createRandom().address,
    governor: Wallet.createRandom().address,
    registry: Wallet.createRandom().address,
    allocator: Wallet.createRandom().address,
  },
  deployBlock: 1,
  deployedAt: new Date().toISOString(),
};

async function seed(db: Parameters<typeof migrateToLatest>[0], consumer: string, now: number) {
  const proposer = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
  // Proposals spread over the last ~100 days, one per block; a third still open.
  await sql`
    insert into proposals (id, proposer, description, description_hash, targets, values, calldatas, operation_id,
      actions, kinds, vote_start, vote_end, eta, status, for_votes, against_votes, abstain_votes, vote_count, quorum,
      created_block, created_time, created_tx, created_log_index, updated_block)
    select (10::numeric ^ 40) + g, ${proposer}, 'Proposal ' || g, '0x' || md5(g::text) || md5(g::text),
      '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, '0x' || md5('op' || g) || md5('op' || g),
      '[]'::jsonb, case when g % 3 = 0 then array['GRANT_ALLOCATION'] else array['SET_MODEL_POLICY'] end,
      ${now} - (${PROPOSALS} - g) * 864 - 300, ${now} - (${PROPOSALS} - g) * 864 + 86400 * 30, null,
      case when g % 5 = 0 then 'EXECUTED' else 'PENDING' end,
      (g % 7) * 10::numeric ^ 23, (g % 3) * 10::numeric ^ 23, 10::numeric ^ 22, ${VOTES_PER_PROPOSAL},
      4 * 10::numeric ^ 23, g, ${now} - (${PROPOSALS} - g) * 864, '0x' || md5('tx' || g) || md5('tx' || g), 0, g
    from generate_series(1, ${PROPOSALS}) as g`.execute(db);
  await sql`
    insert into votes (proposal_id, voter, support, weight, reason, block_number, block_time, tx_hash, log_index)
    select (10::numeric ^ 40) + p, '0x' || lpad(to_hex(v), 40, '0'), v % 3, (v * 1000)::numeric * 10::numeric ^ 18, '',
      p, ${now} - (${PROPOSALS} - p) * 864 + v, '0x' || md5(p || ':' || v) || md5(v || ':' || p), v
    from generate_series(1, ${PROPOSALS}) as p, generate_series(1, ${VOTES_PER_PROPOSAL}) as v`.execute(db);
  // As autovacuum would have by now: statistics and the visibility map (index-only counts).
  await sql`vacuum analyze`.execute(db);

  await db
    .insertInto("indexer_checkpoint")
    .values({
      id: "governance",
      chain_id: 31337,
      block_number: PROPOSALS,
      block_hash: id("head"),
      block_time: now,
      head_block: PROPOSALS,
      total_supply: "10000000000000000000000000",
    })
    .execute();
  await db
    .insertInto("policy_versions")
    .values({
      model_id: "bench-model",
      version: 1,
      approved: true,
      suspended: false,
      suspend_reason: null,
      max_tokens_per_request: 1024,
      requests_per_minute: 1_000_000,
      allowed_purposes: ["research"],
      blocked_terms: ["forbidden"],
      guideline_uri: "ipfs://bench",
      guideline_hash: id("bench"),
      proposal_id: String(10n ** 40n + 5n),
      block_number: 5,
      block_time: now - 1000,
      tx_hash: id("policy"),
      log_index: 0,
    })
    .execute();
  await db
    .insertInto("grants")
    .values({
      grant_id: "1",
      grantee: consumer,
      model_id: "bench-model",
      tokens_per_epoch: "1000000",
      start_time: 0,
      end_time: now + 86_400 * 365,
      proposal_id: String(10n ** 40n + 10n),
      block_number: 10,
      block_time: now - 900,
      tx_hash: id("grant"),
    })
    .execute();
  await db
    .insertInto("community_pool_versions")
    .values({
      block_number: 1,
      log_index: 0,
      allowance_per_address: "2000",
      pool_size_per_epoch: "1000000",
      epoch_length: 86_400,
      proposal_id: null,
      block_time: now - 2000,
      tx_hash: id("pool"),
    })
    .execute();
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
}

async function load(url: string, query: string, o: { connections: number; duration: number }): Promise<Run> {
  const latencies: number[] = [];
  const instance = autocannon({
    url,
    method: "POST",
    connections: o.connections,
    duration: o.duration,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  instance.on("response", (_client, status, _bytes, ms) => {
    if (status === 200) latencies.push(ms);
  });
  const result = await instance;
  return {
    rps: result.requests.total / o.duration,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failed: result.non2xx + result.errors,
  };
}

export default async function apiBench() {
  return runBench("api", async (log) => {
    const cleanups: (() => unknown)[] = [];
    const t = { teardown: (fn: () => unknown) => cleanups.unshift(fn) };
    try {
      const database = await openDatabase({ url: await createTestDatabase(t), poolSize: 16 });
      t.teardown(() => database.close());
      await migrateToLatest(database.db);
      const consumer = Wallet.createRandom().address;
      const now = Math.floor(Date.now() / 1000);
      log(`seeding ${PROPOSALS} proposals and ${PROPOSALS * VOTES_PER_PROPOSAL} votes`);
      const seedStart = performance.now();
      await seed(database.db, consumer, now);
      const seedSeconds = (performance.now() - seedStart) / 1000;

      const network = Network.from(deployment.chainId);
      const provider = new JsonRpcProvider("http://127.0.0.1:9", network, { staticNetwork: network });
      t.teardown(() => provider.destroy());
      const app = Fastify({ logger: false });
      await app.register(apiPlugin, {
        deps: {
          config: loadConfig({ LOG_LEVEL: "silent", API_RATE_LIMIT_PER_MINUTE: "100000000" }),
          logger: createLogger("silent"),
          database,
          provider,
          deployment,
          metrics: createMetrics(),
          now: Date.now,
        },
      });
      const address = await app.listen({ port: 0, host: "127.0.0.1" });
      t.teardown(() => app.close());
      const url = `${address}/graphql`;
      const statusQuery = `{ policyStatus(model: "bench-model", consumer: "${consumer}", purpose: "research") {
        admitted reason policy { version enactedBy { proposalId blockNumber } }
        budgets { source granted used left } communityPoolLeft epochStart } }`;

      // Both queries must answer correctly before they are timed.
      for (const query of [pageQuery, statusQuery]) {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query }),
        });
        const body = (await response.json()) as { errors?: unknown; data?: { proposals?: { edges: unknown[] } } };
        if (body.errors) throw new Error(`benchmark query failed: ${JSON.stringify(body.errors)}`);
        if (body.data?.proposals && body.data.proposals.edges.length !== 20) throw new Error("expected a page of 20");
      }

      log("warm-up");
      await load(url, pageQuery, { connections: 4, duration: 2 });
      await load(url, statusQuery, { connections: 4, duration: 2 });
      log(`one client: ${SINGLE.duration} s`);
      const pageSingle = await load(url, pageQuery, SINGLE);
      log(`moderate load: ${MODERATE.connections} connections, ${MODERATE.duration} s each`);
      const page = await load(url, pageQuery, MODERATE);
      const status = await load(url, statusQuery, MODERATE);
      log(`saturation: ${SATURATION.connections} connections, ${SATURATION.duration} s`);
      const pageFull = await load(url, pageQuery, SATURATION);

      const rows: BenchRow[] = [
        { metric: "seed 10k proposals + 1M votes", value: seedSeconds, unit: "s" },
        { metric: "proposals page p50, one client", value: pageSingle.p50, unit: "ms" },
        { metric: "proposals page p99, one client", value: pageSingle.p99, unit: "ms" },
        { metric: "proposals page (20, tallies) req/s, moderate", value: Math.round(page.rps), unit: "req/s" },
        { metric: "proposals page p50, moderate", value: page.p50, unit: "ms" },
        { metric: "proposals page p99, moderate", value: page.p99, unit: "ms", target: "≤ 10", met: page.p99 <= 10 },
        { metric: "proposals page req/s, saturation", value: Math.round(pageFull.rps), unit: "req/s" },
        { metric: "proposals page p99, saturation", value: pageFull.p99, unit: "ms" },
        { metric: "policyStatus req/s, moderate", value: Math.round(status.rps), unit: "req/s" },
        { metric: "policyStatus p50, moderate", value: status.p50, unit: "ms" },
        { metric: "policyStatus p99, moderate", value: status.p99, unit: "ms" },
        {
          metric: "failed responses",
          value: pageSingle.failed + page.failed + status.failed + pageFull.failed,
          unit: "responses",
        },
      ];
      return {
        rows,
        notes: [
          "page query: totalCount + 20 proposals with state and tally; 3 SQL queries whatever the page size (page, count, clock)",
          "policyStatus: policy rows (one repeatable-read transaction), ledger counters, pure decide()",
          "load generator, API and Postgres share this machine",
          `load average at the end of the run: ${loadavg()
            .map((l) => l.toFixed(2))
            .join(", ")} (other work on the machine inflates the latencies)`,
        ],
      };
    } finally {
      for (const fn of cleanups) await fn();
    }
  });
}
