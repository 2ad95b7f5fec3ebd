import { Contract, JsonRpcProvider, Wallet } from "ethers";
import OpenAI from "openai";
import pg from "pg";
import t from "tap";
import { loadArtifact } from "../../services/chain/artifacts.ts";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import { startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import type { Service } from "../../services/runtime/start-service.ts";
import { build } from "../helpers/app.ts";
import { startSharedChain } from "../helpers/shared-chain.ts";

/**
 * Two replicas of the whole service on one Postgres and one chain, as behind a load balancer, while an
 * operator's restart or a network cut ends their database connections in the middle of calls: every
 * backend of the service is terminated (pool clients mid-transaction, the indexer leader's advisory-lock
 * session, the LISTEN connection), several times, while hundreds of calls are in flight.
 */
const { chain, env: chainEnv } = await startSharedChain(t);
const upstream = await startTestUpstream();
t.teardown(() => upstream.close());
const url = await createTestDatabase(t);
const env = {
  ...chainEnv,
  DATABASE_URL: url,
  UPSTREAM_URL: upstream.url,
  // Short, so that the test sees the sweeper at work: a lost replica's slices are reclaimed after
  // LEASE_TTL_MS + UPSTREAM_TIMEOUT_MS + the ledger's retries, a lost settlement after the last two.
  UPSTREAM_TIMEOUT_MS: "1000",
  LEASE_TTL_MS: "500",
};
const replicas = [await build(t, { env }), await build(t, { env })] as [Service, Service];
const { db } = replicas[0].deps.database;

const admin = new pg.Client({ connectionString: url });
await admin.connect();
// The database is dropped on teardown, with this connection in it.
admin.on("error", () => {});
t.teardown(() => admin.end());
/** Ends every connection the service has to its database, as a Postgres restart would. */
async function terminateServiceBackends(): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `with service as materialized (
       select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid())
     select pid from service where pg_terminate_backend(pid)`,
  );
  return rows.map((r) => r.pid);
}
/** The backends holding the indexer's leader lock (services/indexer/leader.ts; other leaders lock other keys). */
const indexerLock = `commons-indexer:${replicas[0].deps.deployment.chainId}:${replicas[0].deps.deployment.contracts.governor}`;
const leaderBackends = async () =>
  (
    await admin.query<{ pid: number }>(
      // A bigint advisory key shows as its high and low 32 bits (classid, objid).
      `select pid from pg_locks
        where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
          and classid = ((hashtext($1)::bigint >> 32) & 4294967295)::oid and objid = (hashtext($1)::bigint & 4294967295)::oid`,
      [indexerLock],
    )
  ).rows.map((r) => r.pid);
const listenBackends = async () =>
  (
    await admin.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = current_database() and query like 'LISTEN%'`,
    )
  ).rows.map((r) => r.pid);

const messages = [{ role: "user" as const, content: "hi" }];
const consumers = Array.from({ length: 4 }, () => Wallet.createRandom().address);
const CALLS_GRANTED = 400;
const MAX_TOKENS = 8;
await seedIndex(replicas[0].deps.database, {
  policies: [policyRow("m", { allowed_purposes: [], requests_per_minute: 1_000_000 })],
  // A grant each, large enough to be sliced, and a small community allowance the tails fall back on.
  grants: consumers.map((grantee, i) => ({ grantId: i + 1, grantee, tokensPerEpoch: 20 * CALLS_GRANTED })),
  pool: { allowancePerAddress: 200, poolSizePerEpoch: 100_000 },
});
const keys = await Promise.all(consumers.map(async (address) => (await issueApiKey(db, { address })).key));
const clients = replicas.flatMap((replica) =>
  keys.map((key) => new OpenAI({ apiKey: key, baseURL: replica.urls.gateway, maxRetries: 0 })),
);

/** One call: "ADMITTED", or the error code it was answered with. */
const call = (i: number, stream: boolean) => {
  const client = clients[i % clients.length] as OpenAI;
  const answer = stream
    ? client.chat.completions
        .create({ model: "m", messages, max_tokens: MAX_TOKENS, stream: true })
        .then(async (chunks) => {
          for await (const _ of chunks);
        })
    : client.chat.completions.create({ model: "m", messages, max_tokens: MAX_TOKENS });
  return answer.then(
    () => "ADMITTED",
    (error: unknown) => (error instanceof OpenAI.APIError ? String(error.code ?? error.status) : String(error)),
  );
};

t.test("connections cut mid-call: nothing lost, nothing stranded, both replicas keep serving", async (t) => {
  await until(
    async () => (replicas.filter((r) => r.indexer.status().leader).length === 1 ? true : undefined),
    "one replica to lead",
  );
  // The index was seeded behind the replicas' backs (no notification): each sees the policy on its next reload.
  for (const client of [clients[0], clients[keys.length]] as OpenAI[]) {
    await until(
      async () => ((await client.models.list()).data.some((m) => m.id === "m") ? true : undefined),
      "each replica's policy snapshot to hold the seeded model",
    );
  }
  // Both replicas hold budget slices before the cuts.
  for (let i = 0; i < clients.length * 4; i++) await call(i, false);
  const leader = await leaderBackends();
  const listeners = await listenBackends();
  t.equal(leader.length, 1, "the leader holds its lock on a session of its own");
  t.equal(listeners.length, 2, "each replica listens on a connection of its own");

  const CALLS = 600;
  const CUT_EVERY = 100;
  let done = 0;
  const cuts: Promise<number[]>[] = [];
  const outcomes = await Promise.all(
    Array.from({ length: CALLS }, (_, i) =>
      call(i, i % 5 === 0).then((outcome) => {
        done++;
        if (done % CUT_EVERY === 0 && done < CALLS) cuts.push(terminateServiceBackends());
        return outcome;
      }),
    ),
  );
  const killed = (await Promise.all(cuts)).flat();
  t.ok(cuts.length >= 3, `the connections were cut ${cuts.length} times`);
  t.ok(
    [...leader, ...listeners].every((pid) => killed.includes(pid)),
    "the leader's session and both LISTEN connections were among those cut",
  );
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(counts))}`);
  // UPSTREAM_ERROR: the upstream's 1 s deadline (short, so that the sweep comes soon) can pass on a
  // loaded machine; such a call is released like any failed one, and the ledger checks below hold for it.
  t.ok(
    [...counts.keys()].every((o) => ["ADMITTED", "DATABASE_ERROR", "BUDGET_EXHAUSTED", "UPSTREAM_ERROR"].includes(o)),
    "a call is admitted, refused for budget, or fails closed (on the ledger or the upstream's deadline)",
  );

  // Both replicas are alive and serve again (their pools reconnect).
  for (const r of replicas.keys()) {
    // Clients alternate replicas by key count: call r * keys.length goes to replica r.
    await until(async () => ((await call(r * keys.length, false)) === "ADMITTED" ? true : undefined), `replica ${r}`);
  }
  // One leader again, and it indexes: a new block reaches both replicas' view of the index.
  await until(
    async () => (replicas.filter((r) => r.indexer.status().leader).length === 1 ? true : undefined),
    "a leader to be elected again",
  );
  const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { cacheTimeout: -1 });
  t.teardown(() => provider.destroy());
  const holder = new Wallet(chain.holders[1]?.privateKey as string, provider);
  const token = new Contract(chain.deployment.contracts.token, loadArtifact("token").abi, holder);
  const block = ((await (await token.getFunction("delegate")(holder.address)).wait()) as { blockNumber: number })
    .blockNumber;
  for (const replica of replicas) {
    await until(async () => (replica.indexer.status().indexedBlock >= block ? true : undefined), "the new block");
  }
  await until(async () => ((await listenBackends()).length === 2 ? true : undefined), "both replicas to LISTEN again");

  // The sweep: no record stays PENDING, no slice stays reserved once its lease has expired.
  const state = await until(
    async () => {
      const pending = await db
        .selectFrom("gateway_decisions")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .where("outcome", "=", "PENDING")
        .executeTakeFirstOrThrow();
      const reserved = await db
        .selectFrom("gateway_budget_counters")
        .select((eb) => eb.fn.sum<string>("reserved").as("n"))
        .executeTakeFirstOrThrow();
      const leases = await db
        .selectFrom("gateway_leases")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .executeTakeFirstOrThrow();
      return Number(pending.n) === 0 && Number(reserved.n) === 0 && Number(leases.n) === 0
        ? { pending, reserved, leases }
        : undefined;
    },
    "every record settled and every reservation released",
    { timeoutMs: 60_000 },
  );
  t.ok(state, "no record PENDING, nothing reserved, no lease left");

  // The ledger equals the audit, per budget account, and no budget is above its limit.
  const audit = await db
    .selectFrom("gateway_decisions")
    .select(["source", "source_id", "consumer"])
    .select((eb) => eb.fn.sum<string>("tokens_used").as("used"))
    .where("admitted", "=", true)
    .groupBy(["source", "source_id", "consumer"])
    .execute();
  const usage = await db
    .selectFrom("gateway_usage")
    .select(["source", "source_id", "consumer"])
    .select((eb) => eb.fn.sum<string>("tokens_used").as("used"))
    .groupBy(["source", "source_id", "consumer"])
    .execute();
  const byKey = (rows: typeof audit) =>
    Object.fromEntries(rows.map((r) => [`${r.source} ${r.source_id} ${r.consumer}`, Number(r.used)]));
  t.same(byKey(usage), byKey(audit), "the ledger equals the sum of the audit records, per source and consumer");
  const counters = await db.selectFrom("gateway_budget_counters").selectAll().execute();
  for (const c of counters) {
    const ledgerUsed = audit
      .filter((a) =>
        c.account === "pool"
          ? a.source === "pool"
          : c.account.startsWith("pool:")
            ? a.source === "pool" && `pool:${a.consumer}` === c.account
            : a.source === "grant" && `grant:${a.source_id}` === c.account,
      )
      .reduce((sum, a) => sum + Number(a.used), 0);
    t.equal(c.used, ledgerUsed, `${c.account}: its counter is what its audit records charged`);
    t.ok(c.used <= c.budget_limit, `${c.account}: never above its limit`);
  }
});
