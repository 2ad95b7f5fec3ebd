import { once } from "node:events";
import { createConnection, createServer, type Socket } from "node:net";
import { Wallet } from "ethers";
import OpenAI from "openai";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { openDatabase } from "../../services/db/connection.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import { HANG, startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { until } from "../../services/devkit/until.ts";

/**
 * The network between a replica and Postgres, as a TCP proxy the test can cut: every connection is
 * ended and new ones are refused until it is mended.
 */
async function startCuttableLink(target: URL) {
  const sockets = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(a);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        sockets.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = new URL(target);
  url.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: url.toString(),
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
    mend() {
      cut = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

t.test(
  "a call admitted on a slice whose settlement could not be written gets its record once the database is back",
  async (t) => {
    const url = await createTestDatabase(t);
    const direct = await openMigrated(t, url);
    const consumer = Wallet.createRandom().address;
    await seedIndex(direct, {
      policies: [policyRow("m", { allowed_purposes: [], requests_per_minute: 1_000_000 })],
      grants: [{ grantId: 1, grantee: consumer, tokensPerEpoch: 1_000_000 }],
      pool: { allowancePerAddress: 0, poolSizePerEpoch: 0 },
    });
    const { key } = await issueApiKey(direct.db, { address: consumer });
    const upstream = await startTestUpstream();
    t.teardown(() => upstream.close());
    const link = await startCuttableLink(new URL(url));
    t.teardown(() => link.close());
    const database = await openDatabase({ url: link.url, poolSize: 4 });
    t.teardown(() => database.close());
    const gw = await buildGateway(t, { database, upstreamUrl: upstream.url, env: { UPSTREAM_TIMEOUT_MS: "500" } });
    const client = gw.client(key);
    const messages = [{ role: "user" as const, content: "hi" }];

    await until(async () => {
      const answer = await client.chat.completions.create({ model: "m", messages, max_tokens: 8 }).catch(() => null);
      const lease = await direct.db
        .selectFrom("gateway_leases")
        .select("tokens")
        .where("tokens", ">", 0)
        .executeTakeFirst();
      return answer && lease ? true : undefined;
    }, "the replica to hold a slice");
    const before = await direct.db.selectFrom("gateway_decisions").select("request_id").execute();

    // Admitted on the slice (nothing written yet); the upstream does not answer, and the link is cut
    // before its timeout: the settlement that writes the call's record cannot reach Postgres.
    const hanging = client.chat.completions
      .create({ model: "m", messages: [{ role: "user", content: `hi ${HANG}` }], max_tokens: 8 })
      .then(
        () => "ADMITTED",
        (error: unknown) => (error instanceof OpenAI.APIError ? String(error.code) : String(error)),
      );
    await until(
      async () => (upstream.bodies.some((b) => JSON.stringify(b).includes(HANG)) ? true : undefined),
      "the call",
    );
    link.cut();
    t.equal(await hanging, "DATABASE_ERROR", "answered only once its settlement was given up, as a database error");
    link.mend();

    const record = await until(async () => {
      const rows = await direct.db
        .selectFrom("gateway_decisions")
        .selectAll()
        .where(
          "request_id",
          "not in",
          before.map((r) => r.request_id),
        )
        .execute();
      return rows.length > 0 ? rows : undefined;
    }, "the call's record to be written");
    t.match(record, [{ outcome: "UPSTREAM_ERROR", tokens_used: 0, admitted: true }], "it says what the upstream did");
    const audit = await direct.db
      .selectFrom("gateway_decisions")
      .select((eb) => eb.fn.sum<string>("tokens_used").as("used"))
      .executeTakeFirstOrThrow();
    const usage = await direct.db
      .selectFrom("gateway_usage")
      .select((eb) => eb.fn.sum<string>("tokens_used").as("used"))
      .executeTakeFirstOrThrow();
    t.equal(Number(usage.used), Number(audit.used), "the ledger equals the sum of the audit records");
  },
);
