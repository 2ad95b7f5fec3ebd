import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { Wallet } from "ethers";
import OpenAI from "openai";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import { HANG, startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";
import { build } from "../helpers/app.ts";
import { startSharedChain } from "../helpers/shared-chain.ts";

/**
 * A replica dies (kill -9) while it holds budget slices and has calls in flight, some of them admitted
 * with a PENDING audit record: nobody will settle them or give its slices back. The other replica's
 * sweeper does, once the leases have expired and the records are older than the upstream's timeout.
 */
const { folder, env: chainEnv } = await startSharedChain(t);
const upstream = await startTestUpstream();
t.teardown(() => upstream.close());
const env = {
  ...chainEnv,
  DATABASE_URL: await createTestDatabase(t),
  UPSTREAM_URL: upstream.url,
  UPSTREAM_TIMEOUT_MS: "1000",
  LEASE_TTL_MS: "500",
};
const survivor = await build(t, { env });
const { db } = survivor.deps.database;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** The other replica, as `npm start` runs it, in a process of its own. */
const port = await freePort();
const doomed = spawn(
  process.execPath,
  ["--import", "tsx", new URL("../../services/main.ts", import.meta.url).pathname],
  {
    env: {
      ...process.env,
      ...env,
      // Long enough that its calls to a silent upstream are still waiting when it dies.
      UPSTREAM_TIMEOUT_MS: "10000",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: folder,
      LOG_LEVEL: "silent",
    },
    stdio: "ignore",
  },
);
const exited = once(doomed, "exit");
t.teardown(() => doomed.kill("SIGKILL"));
const doomedUrl = `http://127.0.0.1:${port}`;
await until(
  async () => ((await fetch(`${doomedUrl}/readyz`).catch(() => null))?.status === 200 ? true : undefined),
  "the second replica to be ready",
  { timeoutMs: 60_000 },
);

const consumer = Wallet.createRandom().address;
await seedIndex(survivor.deps.database, {
  policies: [policyRow("m", { allowed_purposes: [], requests_per_minute: 1_000_000 })],
  grants: [{ grantId: 1, grantee: consumer, tokensPerEpoch: 100_000 }],
  pool: { allowancePerAddress: 0, poolSizePerEpoch: 0 },
});
const { key } = await issueApiKey(db, { address: consumer });
const client = new OpenAI({ apiKey: key, baseURL: `${doomedUrl}/v1`, maxRetries: 0 });
const messages = [{ role: "user" as const, content: "hi" }];

const counters = () => db.selectFrom("gateway_budget_counters").selectAll().where("account", "=", "grant:1").execute();

t.test("what a dead replica held goes back, and what it admitted is charged", async (t) => {
  // The index was seeded behind the replica's back (no notification): it sees the policy on its next reload.
  await until(
    async () => ((await client.models.list()).data.some((m) => m.id === "m") ? true : undefined),
    "the replica's policy snapshot to hold the seeded model",
  );
  // Enough calls for it to lease slices and admit on them in memory.
  await until(async () => {
    await client.chat.completions.create({ model: "m", messages, max_tokens: 8 });
    const leases = await db.selectFrom("gateway_leases").selectAll().where("tokens", ">", 0).execute();
    return leases.length > 0 ? true : undefined;
  }, "the replica to hold a slice of the grant");
  // In flight when it dies: streams (admitted with a PENDING record) and JSON calls (on its slice, no
  // record yet), all waiting for an upstream that does not answer.
  const hanging = [{ role: "user" as const, content: `hi ${HANG}` }];
  const streams = Array.from({ length: 3 }, () =>
    client.chat.completions.create({ model: "m", messages: hanging, max_tokens: 8, stream: true }).catch(() => null),
  );
  const json = Array.from({ length: 3 }, () =>
    client.chat.completions.create({ model: "m", messages: hanging, max_tokens: 8 }).catch(() => null),
  );
  const pending = await until(async () => {
    const rows = await db.selectFrom("gateway_decisions").selectAll().where("outcome", "=", "PENDING").execute();
    return rows.length === streams.length &&
      upstream.bodies.filter((b) => JSON.stringify(b).includes(HANG)).length === 6
      ? rows
      : undefined;
  }, "every hanging call to reach the upstream");
  doomed.kill("SIGKILL");
  await exited;
  await Promise.all([...streams, ...json]);
  const [before] = await counters();
  t.ok((before?.reserved ?? 0) > 0, "the dead replica's slices and reservations are still reserved");

  // The survivor's sweeper, polled until done (the leases expire after LEASE_TTL_MS plus the dead
  // replica's upstream timeout and the ledger's retries).
  const [after] = await until(
    async () => {
      const rows = await counters();
      const leases = await db.selectFrom("gateway_leases").selectAll().execute();
      return rows[0]?.reserved === 0 && leases.length === 0 ? rows : undefined;
    },
    "the dead replica's leases and reservations to be released",
    { timeoutMs: 60_000 },
  );
  const swept = await db
    .selectFrom("gateway_decisions")
    .selectAll()
    .where(
      "request_id",
      "in",
      pending.map((p) => p.request_id),
    )
    .execute();
  t.same(
    swept.map((r) => [r.outcome, r.tokens_used]),
    pending.map((p) => ["SWEPT", p.tokens_reserved]),
    "its PENDING records are charged their worst case, and say they were swept",
  );
  const audit = await db
    .selectFrom("gateway_decisions")
    .select((eb) => eb.fn.sum<string>("tokens_used").as("used"))
    .executeTakeFirstOrThrow();
  const usage = await db
    .selectFrom("gateway_usage")
    .select((eb) => eb.fn.sum<string>("tokens_used").as("used"))
    .executeTakeFirstOrThrow();
  t.equal(Number(usage.used), Number(audit.used), "the ledger equals the sum of the audit records");
  t.equal(after?.used, Number(audit.used), "and the grant's counter is what they charged");

  // The survivor serves the consumer with everything that came back.
  const survivorClient = new OpenAI({ apiKey: key, baseURL: survivor.urls.gateway, maxRetries: 0 });
  await survivorClient.chat.completions.create({ model: "m", messages, max_tokens: 8 });
  t.pass("the surviving replica serves the consumer");
});
