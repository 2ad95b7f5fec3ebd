/**
 * What one call costs in CPU, the gateway's and its Postgres backends', at saturation: the gateway alone in
 * a process of its own (so that `process.cpuUsage` is the gateway's only), the upstream and the load
 * generator in this one, Postgres's backends of the gateway's database read from /proc. CPU per call moves
 * much less than throughput with the load other work puts on a shared machine, so it compares versions
 * run one after the other. `GATEWAY_CPU_PROFILE=<folder>` writes a CPU profile of the measured window
 * (steady state, no start-up) there; profiling adds its own cost to the figures of that run.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Wallet } from "ethers";
import { sql } from "kysely";
import { issueApiKey } from "../services/db/api-keys.ts";
import { createTestDatabase } from "../services/devkit/database.ts";
import {
  BENCH_CHAT_BODY as body,
  buildGateway,
  openMigrated,
  policyRow,
  SEEDED_DEPLOYMENT,
  seedIndex,
} from "../services/devkit/gateway.ts";
import { startTestUpstream } from "../services/devkit/openai-upstream.ts";
import { autocannon } from "./autocannon.ts";
import { runBench } from "./harness.ts";

const CONSUMERS = 32;
const CONNECTIONS = 32;
const WARM_S = 3;
const MEASURED_S = 10;
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU in hundredths of a second. */
const TICK_MS = 10;

interface Measured {
  gatewayCpuMs: number;
  postgresCpuMs: number;
  transactions: number;
}

/** The gateway's process: seeds its database, serves, and measures between "start" and "stop" on stdin. */
async function gatewayProcess(upstreamUrl: string): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => cleanups.unshift(fn) };
  const database = await openMigrated(t, await createTestDatabase(t), 16);
  const consumers = Array.from({ length: CONSUMERS }, () => Wallet.createRandom().address);
  await seedIndex(database, {
    policies: [policyRow("bench-model", { requests_per_minute: 10_000_000 })],
    grants: consumers.map((grantee, i) => ({ grantId: i + 1, grantee, tokensPerEpoch: 1_000_000_000 })),
    pool: { allowancePerAddress: 1_000, poolSizePerEpoch: 1_000_000 },
  });
  const gw = await buildGateway(t, {
    database,
    upstreamUrl,
    env: { MAX_POLICY_STALENESS_S: "3600" },
    deployment: SEEDED_DEPLOYMENT,
  });
  const keys = await Promise.all(consumers.map(async (address) => (await issueApiKey(database.db, { address })).key));
  /** CPU milliseconds of each Postgres backend of this database, and its committed transactions. */
  const postgres = async () => {
    const { rows } = await sql<{ pid: number; commits: string }>`
      select a.pid, d.xact_commit::text as commits from pg_stat_activity a
        join pg_stat_database d on d.datname = a.datname where a.datname = current_database()`.execute(database.db);
    const cpu = new Map(
      rows.map(({ pid }) => {
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
        return [pid, (Number(fields[11]) + Number(fields[12])) * TICK_MS];
      }),
    );
    return { cpu, commits: Number(rows[0]?.commits ?? 0) };
  };
  const profileDir = process.env.GATEWAY_CPU_PROFILE;
  const session = new Session();
  if (profileDir) {
    session.connect();
    await session.post("Profiler.enable");
  }
  let before = { cpu: process.cpuUsage(), postgres: await postgres() };
  process.stdout.write(`${JSON.stringify({ url: `${gw.baseURL}/chat/completions`, keys })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "start") {
      before = { postgres: await postgres(), cpu: process.cpuUsage() };
      if (profileDir) await session.post("Profiler.start");
    } else if (line === "stop") {
      const cpu = process.cpuUsage(before.cpu);
      if (profileDir) {
        const { profile } = await session.post("Profiler.stop");
        writeFileSync(join(profileDir, `gateway-${Date.now()}.cpuprofile`), JSON.stringify(profile));
      }
      const after = await postgres();
      let postgresCpuMs = 0;
      for (const [pid, ms] of after.cpu) postgresCpuMs += ms - (before.postgres.cpu.get(pid) ?? 0);
      const measured: Measured = {
        gatewayCpuMs: (cpu.user + cpu.system) / 1000,
        postgresCpuMs,
        transactions: after.commits - before.postgres.commits,
      };
      process.stdout.write(`${JSON.stringify(measured)}\n`);
      break;
    }
  }
  for (const fn of cleanups) await fn();
}

if (process.env.GATEWAY_CPU_UPSTREAM) {
  await gatewayProcess(process.env.GATEWAY_CPU_UPSTREAM);
  process.exit(0);
}

async function load(url: string, keys: string[], duration: number): Promise<number> {
  let next = 0;
  const result = await autocannon({
    url,
    method: "POST",
    connections: CONNECTIONS,
    duration,
    headers: { "content-type": "application/json" },
    body,
    setupClient: (client) =>
      client.setHeaders({
        "content-type": "application/json",
        "x-commons-purpose": "research",
        authorization: `Bearer ${keys[next++ % keys.length]}`,
      }),
  });
  if (result.non2xx > 0) throw new Error(`${result.non2xx} calls were not answered 200`);
  return result.requests.total;
}

export default async function gatewayCpuBench() {
  return runBench("gateway-cpu", async (log) => {
    const upstream = await startTestUpstream();
    const child = spawn(process.execPath, ["--import", "tsx", new URL(import.meta.url).pathname], {
      env: { ...process.env, GATEWAY_CPU_UPSTREAM: upstream.url },
      stdio: ["pipe", "pipe", "inherit"],
    });
    try {
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const { url, keys } = JSON.parse((await lines.next()).value as string) as { url: string; keys: string[] };
      log(`warm-up ${WARM_S} s, then ${MEASURED_S} s measured, ${CONNECTIONS} connections`);
      await load(url, keys, WARM_S);
      child.stdin.write("start\n");
      const calls = await load(url, keys, MEASURED_S);
      child.stdin.write("stop\n");
      const measured = JSON.parse((await lines.next()).value as string) as Measured;
      return {
        rows: [
          { metric: "gateway alone, saturation", value: Math.round(calls / MEASURED_S), unit: "req/s" },
          { metric: "gateway CPU per call", value: measured.gatewayCpuMs / calls, unit: "ms" },
          { metric: "its Postgres backends' CPU per call", value: measured.postgresCpuMs / calls, unit: "ms" },
          { metric: "ledger transactions per call", value: measured.transactions / calls, unit: "ratio" },
        ],
        notes: [
          `${CONSUMERS} consumers with grants, calls admitted on the replica's slices as in bench/gateway.bench.ts; the upstream and the load generator in this process, the gateway in its own`,
        ],
      };
    } finally {
      child.kill();
      await upstream.close();
    }
  });
}
