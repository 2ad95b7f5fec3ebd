import { Wallet } from "ethers";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { openDatabase } from "../../services/db/connection.ts";
import { migrateToLatest } from "../../services/db/migrate.ts";
import { buildGateway, policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import { DEV_MODEL_LABEL } from "../../services/gateway/dev-model.ts";

t.test("on the embedded defaults (PGlite, local development model) the whole flow runs offline", async (t) => {
  const database = await openDatabase({});
  t.teardown(() => database.close());
  await migrateToLatest(database.db);
  const consumer = Wallet.createRandom().address;
  await seedIndex(database, {
    policies: [policyRow("commons-dev-1", { allowed_purposes: [] })],
    pool: { allowancePerAddress: 2_000, poolSizePerEpoch: 1_000_000 },
  });
  const gw = await buildGateway(t, { database });
  const { key } = await issueApiKey(database.db, { address: consumer });
  const client = gw.client(key);

  const first = await client.chat.completions.create({
    model: "commons-dev-1",
    messages: [{ role: "user", content: "hello" }],
    max_tokens: 12,
  });
  const again = await client.chat.completions.create({
    model: "commons-dev-1",
    messages: [{ role: "user", content: "hello" }],
    max_tokens: 12,
  });
  t.equal(first.system_fingerprint, DEV_MODEL_LABEL, "clearly labelled");
  t.equal(first.choices[0]?.message.content, again.choices[0]?.message.content, "deterministic");
  t.equal(first.usage?.completion_tokens, 12);

  const stream = await client.chat.completions.create({
    model: "commons-dev-1",
    messages: [{ role: "user", content: "hello" }],
    max_tokens: 12,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let total = 0;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    total = chunk.usage?.total_tokens ?? total;
  }
  t.equal(text, first.choices[0]?.message.content, "the stream says the same");
  t.equal(total, first.usage?.total_tokens);

  const embedding = await client.embeddings.create({ model: "commons-dev-1", input: "hello" });
  t.equal(embedding.data[0]?.embedding.length, 16);

  // The Responses API, whole and streamed.
  const response = await client.responses.create({ model: "commons-dev-1", input: "hello", max_output_tokens: 12 });
  t.match(response.output_text, /commons-dev \(local development model\)/, "clearly labelled");
  t.equal(response.usage?.output_tokens, 12);
  const events = await client.responses.create({
    model: "commons-dev-1",
    input: "hello",
    max_output_tokens: 12,
    stream: true,
  });
  let streamed = "";
  let completed: typeof response | undefined;
  for await (const event of events) {
    if (event.type === "response.output_text.delta") streamed += event.delta;
    if (event.type === "response.completed") completed = event.response;
  }
  t.equal(streamed, response.output_text, "the stream says the same");
  t.equal(completed?.usage?.total_tokens, response.usage?.total_tokens);

  const pool = await database.db
    .selectFrom("gateway_budget_counters")
    .selectAll()
    .where("account", "=", `pool:${consumer}`)
    .executeTakeFirstOrThrow();
  t.equal(
    pool.used,
    2 * (first.usage?.total_tokens as number) +
      total +
      embedding.usage.total_tokens +
      2 * (response.usage?.total_tokens as number),
  );
  t.equal(pool.reserved, 0);
});
