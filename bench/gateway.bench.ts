/**
 * The same local upstream, straight, through the gateway and through Portkey's open-source gateway, in
 * one run (autocannon): requests per second at saturation and latency at moderate load, with every check,
 * the ledger and the audit on, against real Postgres (DATABASE_URL or TEST_DATABASE_URL's server, in a
 * fresh database).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, open, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Wallet } from "ethers";
import Fastify from "fastify";
import { issueApiKey } from "../services/db/api-keys.ts";
import type { DatabaseHandle } from "../services/db/connection.ts";
import { type DecisionRecord, recordDecision } from "../services/db/gateway-decisions.ts";
import { createTestDatabase } from "../services/devkit/database.ts";
import {
  BENCH_CHAT_BODY as body,
  buildGateway,
  openMigrated,
  policyRow,
  SEEDED_DEPLOYMENT,
  seedIndex,
  seedQueuedProposal,
} from "../services/devkit/gateway.ts";
import { startTestUpstream } from "../services/devkit/openai-upstream.ts";
import { until } from "../services/devkit/until.ts";
import { createBatcher } from "../services/gateway/batcher.ts";
import { LEDGER_BATCHING } from "../services/gateway/enforcer.ts";
import { createUpstream, type JsonObject } from "../services/gateway/upstream.ts";
import { GOVERNANCE_CHANNEL } from "../services/indexer/notifications.ts";
import { autocannon } from "./autocannon.ts";
import { type BenchRow, percentile, runBench } from "./harness.ts";

const CONSUMERS = 32;
const MODERATE = { connections: 4, duration: 8 };
const SATURATION = { connections: 32, duration: 8 };
/** A feature off and on, alternated (ABBA twice): a drift of the shared machine's load weighs on both alike. */
const ABBA_RUNS = [false, true, true, false, false, true, true, false];
const ABBA_SATURATION = { connections: 32, duration: 5 };
const SHADOWED_PROPOSAL = "1";

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  overheadMs: number[];
}

async function load(
  url: string,
  o: {
    connections: number;
    duration: number;
    overallRate?: number;
    keys?: string[];
    /** Headers beyond the body's content type (Portkey's routing headers). */
    headers?: Record<string, string>;
  },
): Promise<Run> {
  const latencies: number[] = [];
  const overheadMs: number[] = [];
  let next = 0;
  const instance = autocannon({
    url,
    method: "POST",
    connections: o.connections,
    duration: o.duration,
    ...(o.overallRate === undefined ? {} : { overallRate: o.overallRate }),
    headers: { "content-type": "application/json", "x-commons-purpose": "research", ...o.headers },
    body,
    setupClient: (client) => {
      const key = o.keys?.[next++ % o.keys.length];
      if (key)
        client.setHeaders({
          "content-type": "application/json",
          "x-commons-purpose": "research",
          authorization: `Bearer ${key}`,
        });
    },
    requests: [
      {
        onResponse: (_status, _body, _context, headers) => {
          const overhead = headers?.["x-commons-overhead-ms"];
          if (overhead !== undefined) overheadMs.push(Number(overhead));
        },
      },
    ],
  });
  instance.on("response", (_client, statusCode, _bytes, responseTime) => {
    if (statusCode === 200) latencies.push(responseTime);
  });
  const result = await instance;
  return {
    rps: result.requests.total / o.duration,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    non2xx: result.non2xx,
    overheadMs,
  };
}

/**
 * Each side runs on its own thread, as separate processes would: upstream, gateway, load generator, and
 * two reference proxies (fastify and the gateway's undici upstream client, no checks): the bare proxy,
 * the ceiling of any gateway built on this stack on this machine; and the recording proxy, which also
 * inserts one audit row per call before it answers (synchronous commit, batched as the gateway batches):
 * the ceiling of any gateway here that answers no call whose record could be lost. The log proxy is the
 * other durable design issue 18 names: the same record appended to a local file, fsynced once per batch
 * (group commit) before the answers, to be shipped to Postgres behind them; if it were much faster than
 * the recording proxy, the floor would move to it.
 */
type Role =
  | { role: "upstream" }
  | { role: "gateway"; databaseUrl: string; upstreamUrl: string; env?: Record<string, string> }
  | { role: "proxy"; upstreamUrl: string; record?: { databaseUrl: string } | "local log" };

/** Where a proxy makes each call's record durable before it answers, batched as the gateway batches. */
async function openRecorder(
  t: { teardown: (fn: () => unknown) => void },
  record: { databaseUrl: string } | "local log",
): Promise<(records: DecisionRecord[]) => Promise<void>> {
  if (record !== "local log") {
    const database = await openMigrated(t, record.databaseUrl, 16);
    return (records) => recordDecision(database.db, records);
  }
  const folder = await mkdtemp(join(tmpdir(), "commons-audit-log-"));
  const log = await open(join(folder, "audit.jsonl"), "a");
  t.teardown(async () => {
    await log.close();
    await rm(folder, { recursive: true });
  });
  return async (records) => {
    await log.appendFile(records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    await log.datasync();
  };
}

async function serve(role: Role): Promise<{ info: unknown; stop: () => Promise<void> }> {
  const cleanups: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => cleanups.unshift(fn) };
  const stop = async () => {
    for (const fn of cleanups) await fn();
  };
  if (role.role === "upstream") {
    const upstream = await startTestUpstream();
    t.teardown(() => upstream.close());
    return { info: upstream.url, stop };
  }
  if (role.role === "proxy") {
    const upstream = createUpstream({ url: role.upstreamUrl, timeoutMs: 2_000 });
    const recorder = role.record === undefined ? null : await openRecorder(t, role.record);
    // Batched as the gateway batches its ledger writes: calls in flight share a statement (or a write)
    // and a commit (or an fsync).
    const audits =
      recorder &&
      createBatcher(async (records: DecisionRecord[]) => {
        await recorder(records);
        return records.map(() => undefined);
      }, LEDGER_BATCHING);
    const app = Fastify({ logger: false });
    app.post("/v1/chat/completions", async (request) => {
      const { value: answer } = await upstream.json(
        "/chat/completions",
        request.body as JsonObject,
        new AbortController().signal,
      );
      await audits?.submit({
        request_id: `req_${randomUUID().replaceAll("-", "")}`,
        endpoint: "chat.completions",
        model_id: String((request.body as JsonObject).model),
        admitted: true,
        outcome: "COMPLETED",
      });
      return answer;
    });
    const address = await app.listen({ port: 0, host: "127.0.0.1" });
    t.teardown(async () => {
      await app.close();
      await upstream.close();
    });
    return { info: `${address}/v1`, stop };
  }
  const database = await openMigrated(t, role.databaseUrl, 16);
  const consumers = Array.from({ length: CONSUMERS }, () => Wallet.createRandom().address);
  await seedIndex(database, {
    policies: [policyRow("bench-model", { requests_per_minute: 10_000_000 })],
    grants: consumers.map((grantee, i) => ({ grantId: i + 1, grantee, tokensPerEpoch: 1_000_000_000 })),
    pool: { allowancePerAddress: 1_000, poolSizePerEpoch: 1_000_000 },
  });
  // Shadow mode, switched on and off by the main thread (setShadowed): a proposal changing the benchmark's
  // model, so that each call is decided again in full (to the budgets) under its policies while it is
  // queued, and the shadow decision is written into the audit record. Not queued until then.
  await seedQueuedProposal(
    database,
    SHADOWED_PROPOSAL,
    [
      {
        kind: "SET_MODEL_POLICY",
        modelId: "bench-model",
        approved: true,
        maxTokensPerRequest: 128,
        requestsPerMinute: 5_000_000,
        allowedPurposes: ["research"],
        blockedTerms: ["Forbidden-Term"],
        guidelineUri: "ipfs://guidelines/bench-model-v2",
        guidelineHash: `0x${"ab".repeat(32)}`,
      },
    ],
    "EXECUTED",
  );
  const gw = await buildGateway(t, {
    database,
    upstreamUrl: role.upstreamUrl,
    // No indexer runs here: the seeded heartbeat must stay fresh for the whole run.
    env: { MAX_POLICY_STALENESS_S: "3600", ...role.env },
    deployment: SEEDED_DEPLOYMENT,
  });
  const keys = await Promise.all(consumers.map(async (address) => (await issueApiKey(database.db, { address })).key));
  return { info: { baseURL: gw.baseURL, keys }, stop };
}

if (!isMainThread && (workerData as Role | null)?.role) {
  const { info, stop } = await serve(workerData as Role);
  parentPort?.once("message", async () => {
    await stop();
    parentPort?.close();
  });
  parentPort?.postMessage(info);
}

/**
 * Portkey's open-source gateway (@portkey-ai/gateway), as it is run locally: its Node server entry (a
 * Hono app on @hono/node-server) in a process of its own, headless (no UI), on a free port. Nothing is
 * fetched from the network: calls name the provider (`openai`) and the local upstream as its custom host
 * in headers, and 127.0.0.1 is one of the hosts it trusts by default.
 */
async function startPortkey(
  upstreamUrl: string,
): Promise<{ url: string; headers: Record<string, string>; stop: () => Promise<void> }> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, "close");
  const entry = fileURLToPath(import.meta.resolve("@portkey-ai/gateway/build/start-server.js"));
  const child = spawn(process.execPath, [entry, `--port=${port}`, "--headless"], { stdio: "ignore" });
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill();
    await once(child, "exit");
  };
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  const headers = {
    authorization: "Bearer sk-unused",
    "x-portkey-provider": "openai",
    "x-portkey-custom-host": upstreamUrl,
  };
  // It answers once it listens; the first answer must be the upstream's, usage included.
  const answer = await until(
    () =>
      fetch(url, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body })
        .then((r) => (r.ok ? (r.json() as Promise<{ usage?: { total_tokens?: number } }>) : undefined))
        .catch(() => undefined),
    "Portkey's gateway to answer",
  ).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  if (typeof answer.usage?.total_tokens !== "number") {
    await stop();
    throw new Error("Portkey's gateway answered without the upstream's usage");
  }
  return { url, headers, stop };
}

/**
 * Queues the seeded proposal (shadow mode on) or marks it executed (off), announces it as the indexer does,
 * and waits until the gateway's records show the change: a probe call's record has a shadow, or none.
 */
async function setShadowed(database: DatabaseHandle, url: string, key: string, on: boolean): Promise<void> {
  await database.db
    .updateTable("proposals")
    .set({ status: on ? "QUEUED" : "EXECUTED" })
    .where("id", "=", SHADOWED_PROPOSAL)
    .execute();
  await database.notify(GOVERNANCE_CHANNEL, JSON.stringify({ type: "proposal", proposalId: SHADOWED_PROPOSAL }));
  await until(
    async () => {
      const answer = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-commons-purpose": "research",
          authorization: `Bearer ${key}`,
        },
        body,
      });
      const requestId = answer.headers.get("x-request-id");
      await answer.arrayBuffer();
      const row = await database.db
        .selectFrom("gateway_decisions")
        .select("shadow")
        .where("request_id", "=", requestId ?? "")
        .executeTakeFirst();
      return row !== undefined && (row.shadow !== null) === on ? true : undefined;
    },
    `shadow mode ${on ? "on" : "off"}`,
  );
}

function startThread<T>(role: Role): Promise<{ info: T; stop: () => Promise<void> }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: role });
  return new Promise((resolve, reject) => {
    worker.once("error", reject);
    worker.once("message", (info: T) =>
      resolve({
        info,
        stop: async () => {
          worker.postMessage("stop");
          await once(worker, "exit");
        },
      }),
    );
  });
}

interface Alternation {
  on: Run[];
  off: Run[];
  /** Throughput on / off, over all the runs of each side. */
  ratio: number;
  /** The runs in order, for the notes. */
  sequence: string;
}

/** Saturation runs with a feature off and on in the order of ABBA_RUNS; `run(on)` switches it and loads. */
async function alternate(run: (on: boolean) => Promise<Run>): Promise<Alternation> {
  const runs: Alternation = { on: [], off: [], ratio: 0, sequence: "" };
  const order: string[] = [];
  for (const on of ABBA_RUNS) {
    const result = await run(on);
    runs[on ? "on" : "off"].push(result);
    order.push(`${on ? "on" : "off"} ${Math.round(result.rps)}`);
  }
  runs.ratio = sumRps(runs.on) / sumRps(runs.off);
  runs.sequence = order.join(", ");
  return runs;
}

const sumRps = (runs: Run[]) => runs.reduce((sum, r) => sum + r.rps, 0);
const meanRps = (runs: Run[]) => Math.round(sumRps(runs) / runs.length);

export default async function gatewayBench() {
  return runBench("gateway", async (log) => {
    const cleanups: (() => unknown)[] = [];
    const t = { teardown: (fn: () => unknown) => cleanups.unshift(fn) };
    const loadBefore = loadavg()[0] as number;
    try {
      const databaseUrl = await createTestDatabase(t);
      const upstream = await startThread<string>({ role: "upstream" });
      t.teardown(() => upstream.stop());
      const gateway = await startThread<{ baseURL: string; keys: string[] }>({
        role: "gateway",
        databaseUrl,
        upstreamUrl: upstream.info,
      });
      t.teardown(() => gateway.stop());
      const proxy = await startThread<string>({ role: "proxy", upstreamUrl: upstream.info });
      t.teardown(() => proxy.stop());
      const recording = await startThread<string>({
        role: "proxy",
        upstreamUrl: upstream.info,
        record: { databaseUrl },
      });
      t.teardown(() => recording.stop());
      const logging = await startThread<string>({ role: "proxy", upstreamUrl: upstream.info, record: "local log" });
      t.teardown(() => logging.stop());
      const portkey = await startPortkey(upstream.info);
      t.teardown(() => portkey.stop());
      const { keys } = gateway.info;
      const direct = `${upstream.info}/chat/completions`;
      const bare = `${proxy.info}/chat/completions`;
      const recorded = `${recording.info}/chat/completions`;
      const logged = `${logging.info}/chat/completions`;
      const through = `${gateway.info.baseURL}/chat/completions`;

      log("warm-up");
      await load(direct, { connections: 4, duration: 2 });
      await load(bare, { connections: 4, duration: 2 });
      await load(recorded, { connections: 4, duration: 2 });
      await load(logged, { connections: 4, duration: 2 });
      await load(through, { connections: 4, duration: 2, keys });
      await load(portkey.url, { connections: 4, duration: 2, headers: portkey.headers });

      log(`saturation: ${SATURATION.connections} connections, ${SATURATION.duration} s each`);
      const directFull = await load(direct, SATURATION);
      const bareFull = await load(bare, SATURATION);
      const recordedFull = await load(recorded, SATURATION);
      const loggedFull = await load(logged, SATURATION);
      const gatewayFull = await load(through, { ...SATURATION, keys });
      const portkeyFull = await load(portkey.url, { ...SATURATION, headers: portkey.headers });
      // Shadow mode on and off on the same warm gateway.
      log(`shadow mode: ${ABBA_RUNS.length} saturation runs of ${ABBA_SATURATION.duration} s, off and on`);
      const shadowDb = await openMigrated(t, databaseUrl, 2);
      const shadow = await alternate(async (on) => {
        await setShadowed(shadowDb, through, keys[0] as string, on);
        return load(through, { ...ABBA_SATURATION, keys });
      });
      await setShadowed(shadowDb, through, keys[0] as string, false);
      // Receipts' work on the request path (body hashing) on and off: two gateways as alike as can be (each
      // new, on a fresh database of its own, warmed alike), one with RECEIPT_BODY_HASHES=false.
      log(`receipts: ${ABBA_RUNS.length} saturation runs of ${ABBA_SATURATION.duration} s, off and on`);
      const receiptGateways = await Promise.all(
        [{ RECEIPT_BODY_HASHES: "true" }, { RECEIPT_BODY_HASHES: "false" }].map(async (env) => {
          const started = await startThread<{ baseURL: string; keys: string[] }>({
            role: "gateway",
            databaseUrl: await createTestDatabase(t),
            upstreamUrl: upstream.info,
            env,
          });
          t.teardown(() => started.stop());
          return { url: `${started.info.baseURL}/chat/completions`, keys: started.info.keys };
        }),
      );
      const [hashing, plain] = receiptGateways as [(typeof receiptGateways)[number], (typeof receiptGateways)[number]];
      for (const gw of receiptGateways) await load(gw.url, { connections: 4, duration: 2, keys: gw.keys });
      const receipts = await alternate((on) => {
        const gw = on ? hashing : plain;
        return load(gw.url, { ...ABBA_SATURATION, keys: gw.keys });
      });
      // Moderate load is a fixed rate, a quarter of what the gateway sustains: its latency is the
      // gateway's own work, not queueing behind a saturated machine (closed-loop clients with no think
      // time saturate it at any connection count; that figure is reported too).
      const rate = Math.max(50, Math.round(gatewayFull.rps / 4));
      log(`moderate load: ${rate} req/s on ${MODERATE.connections} connections, ${MODERATE.duration} s each`);
      const directModerate = await load(direct, { ...MODERATE, overallRate: rate });
      const bareModerate = await load(bare, { ...MODERATE, overallRate: rate });
      const recordedModerate = await load(recorded, { ...MODERATE, overallRate: rate });
      const loggedModerate = await load(logged, { ...MODERATE, overallRate: rate });
      const gatewayModerate = await load(through, { ...MODERATE, overallRate: rate, keys });
      log(`closed loop: ${MODERATE.connections} connections as fast as answers come back`);
      const directClosed = await load(direct, MODERATE);
      const gatewayClosed = await load(through, { ...MODERATE, keys });

      const ratio = gatewayFull.rps / directFull.rps;
      const overPortkey = gatewayFull.rps / portkeyFull.rps;
      const addedP50 = gatewayModerate.p50 - directModerate.p50;
      const addedP99 = gatewayModerate.p99 - directModerate.p99;
      const overFloor = gatewayFull.rps / recordedFull.rps;
      const addedOverFloor = gatewayModerate.p50 - recordedModerate.p50;
      const database = await openMigrated(t, databaseUrl, 1);
      const decisions = await database.db
        .selectFrom("gateway_decisions")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        // The recording proxy's rows have no consumer.
        .where("consumer", "is not", null)
        .executeTakeFirstOrThrow();
      const shadowDecisions = await database.db
        .selectFrom("gateway_decisions")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .where("shadow", "is not", null)
        .executeTakeFirstOrThrow();
      const rows: BenchRow[] = [
        { metric: "direct upstream, saturation", value: Math.round(directFull.rps), unit: "req/s" },
        { metric: "through the gateway, saturation", value: Math.round(gatewayFull.rps), unit: "req/s" },
        { metric: "gateway / direct throughput", value: ratio, unit: "ratio", target: "≥ 0.40", met: ratio >= 0.4 },
        { metric: "Portkey gateway (no checks), saturation", value: Math.round(portkeyFull.rps), unit: "req/s" },
        {
          metric: "gateway / Portkey throughput",
          value: overPortkey,
          unit: "ratio",
          target: "≥ 4",
          met: overPortkey >= 4,
        },
        { metric: "non-2xx through Portkey", value: portkeyFull.non2xx, unit: "responses" },
        {
          metric: `gateway, shadow mode off (mean of ${shadow.off.length}), saturation`,
          value: meanRps(shadow.off),
          unit: "req/s",
        },
        {
          metric: `gateway, a queued proposal shadowed (mean of ${shadow.on.length}), saturation`,
          value: meanRps(shadow.on),
          unit: "req/s",
        },
        {
          metric: "shadow on / off throughput",
          value: shadow.ratio,
          unit: "ratio",
          target: "≥ 0.95",
          met: shadow.ratio >= 0.95,
        },
        {
          metric: "non-2xx with shadow mode on",
          value: shadow.on.reduce((sum, r) => sum + r.non2xx, 0),
          unit: "responses",
        },
        {
          metric: `gateway, receipts' body hashes off (mean of ${receipts.off.length}), saturation`,
          value: meanRps(receipts.off),
          unit: "req/s",
        },
        {
          metric: `gateway, receipts' body hashes on (mean of ${receipts.on.length}), saturation`,
          value: meanRps(receipts.on),
          unit: "req/s",
        },
        {
          metric: "receipts on / off throughput",
          value: receipts.ratio,
          unit: "ratio",
          target: "≥ 0.95",
          met: receipts.ratio >= 0.95,
        },
        {
          metric: "non-2xx with receipts on or off",
          value: [...receipts.on, ...receipts.off].reduce((sum, r) => sum + r.non2xx, 0),
          unit: "responses",
        },
        { metric: "bare proxy (no checks), saturation", value: Math.round(bareFull.rps), unit: "req/s" },
        { metric: "bare proxy / direct throughput", value: bareFull.rps / directFull.rps, unit: "ratio" },
        { metric: "gateway / bare proxy throughput", value: gatewayFull.rps / bareFull.rps, unit: "ratio" },
        {
          metric: "recording proxy (one durable insert), saturation",
          value: Math.round(recordedFull.rps),
          unit: "req/s",
        },
        { metric: "recording proxy / direct throughput", value: recordedFull.rps / directFull.rps, unit: "ratio" },
        {
          metric: "gateway / recording proxy throughput",
          value: overFloor,
          unit: "ratio",
          target: "≥ 0.9",
          met: overFloor >= 0.9,
        },
        {
          metric: "log proxy (local append, group fsync), saturation",
          value: Math.round(loggedFull.rps),
          unit: "req/s",
        },
        { metric: "log proxy / recording proxy throughput", value: loggedFull.rps / recordedFull.rps, unit: "ratio" },
        // What bounds "≥ 4 × Portkey" for any gateway that answers no call whose record could be lost.
        { metric: "recording proxy / Portkey throughput", value: recordedFull.rps / portkeyFull.rps, unit: "ratio" },
        { metric: "log proxy / Portkey throughput", value: loggedFull.rps / portkeyFull.rps, unit: "ratio" },
        { metric: "direct p50 (moderate)", value: directModerate.p50, unit: "ms" },
        { metric: "gateway p50 (moderate)", value: gatewayModerate.p50, unit: "ms" },
        { metric: "added latency p50 (moderate)", value: addedP50, unit: "ms", target: "≤ 2", met: addedP50 <= 2 },
        { metric: "added latency p99 (moderate)", value: addedP99, unit: "ms" },
        { metric: "bare proxy added latency p50 (moderate)", value: bareModerate.p50 - directModerate.p50, unit: "ms" },
        {
          metric: "recording proxy added latency p50 (moderate)",
          value: recordedModerate.p50 - directModerate.p50,
          unit: "ms",
        },
        {
          metric: "gateway p50 over the recording proxy's (moderate)",
          value: addedOverFloor,
          unit: "ms",
          target: "≤ 0.5",
          met: addedOverFloor <= 0.5,
        },
        {
          metric: "log proxy added latency p50 (moderate)",
          value: loggedModerate.p50 - directModerate.p50,
          unit: "ms",
        },
        {
          metric: "gateway's own overhead p50 (header)",
          value: percentile(gatewayModerate.overheadMs, 50),
          unit: "ms",
        },
        {
          metric: "gateway's own overhead p99 (header)",
          value: percentile(gatewayModerate.overheadMs, 99),
          unit: "ms",
        },
        { metric: "moderate load (fixed rate)", value: Math.round(gatewayModerate.rps), unit: "req/s" },
        {
          metric: `added latency p50, closed loop ${MODERATE.connections} connections`,
          value: gatewayClosed.p50 - directClosed.p50,
          unit: "ms",
        },
        {
          metric: `gateway req/s, closed loop ${MODERATE.connections} connections`,
          value: Math.round(gatewayClosed.rps),
          unit: "req/s",
        },
        {
          metric: "non-2xx through the gateway",
          value: gatewayModerate.non2xx + gatewayFull.non2xx + gatewayClosed.non2xx,
          unit: "responses",
        },
      ];
      return {
        rows,
        notes: [
          `${CONSUMERS} consumers with grants; each call is decided in memory against the replica's slice of its grant (a slice is leased from the guarded rows in the background; the first calls and any call the slice cannot cover take the per-call guard, a round trip), and once the upstream has answered, its audit record is inserted with its settlement (one transaction, synchronous commit, batched with the calls in flight) before the answer`,
          `audit records written by the gateway: ${decisions.n}, ${shadowDecisions.n} of them with a shadow decision`,
          `shadow mode runs in order (req/s): ${shadow.sequence}`,
          `receipts runs in order (req/s): ${receipts.sequence}; on the request path receipts cost the sha256 of the request body (in the JSON parser) and of the answer, and one header; the receipt is built from the audit record by the anchoring job, off the request path`,
          "load generator, gateway, the three reference proxies and upstream each on their own thread, Portkey's gateway (@portkey-ai/gateway, its Node server, headless, provider openai with the local upstream as custom host) in its own process; they and Postgres share this machine",
          `1-minute load average ${loadBefore.toFixed(2)} before the run, ${(loadavg()[0] as number).toFixed(2)} after, on ${availableParallelism()} cores`,
        ],
      };
    } finally {
      for (const fn of cleanups) await fn();
    }
  });
}
