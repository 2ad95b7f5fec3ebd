import { Wallet } from "ethers";
import OpenAI from "openai";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { openDatabase } from "../../services/db/connection.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import { startTestUpstream } from "../../services/devkit/openai-upstream.ts";

t.test(
  "when the ledger's database is gone, calls fail closed with DATABASE_ERROR and nothing reaches the upstream",
  async (t) => {
    const url = await createTestDatabase(t);
    const seeded = await openMigrated(t, url);
    await seedIndex(seeded, {
      policies: [policyRow("m", { allowed_purposes: [] })],
      pool: { allowancePerAddress: 100, poolSizePerEpoch: 1000 },
    });
    const { key } = await issueApiKey(seeded.db, { address: Wallet.createRandom().address });
    const upstream = await startTestUpstream();
    t.teardown(() => upstream.close());

    const database = await openDatabase({ url, poolSize: 2 });
    const gw = await buildGateway(t, { database, upstreamUrl: upstream.url });
    await database.close();

    const error = await gw
      .client(key)
      .chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    t.ok(error instanceof OpenAI.APIError);
    t.match(error, { status: 500, code: "DATABASE_ERROR", type: "server_error" });
    t.equal(upstream.bodies.length, 0);
  },
);
