import { once } from "node:events";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { id } from "ethers";
import t from "tap";
import { openDatabase } from "../../services/db/connection.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { until } from "../../services/devkit/until.ts";
import { createUpstream } from "../../services/gateway/upstream.ts";
import { apiKeyFor, build, enact } from "../helpers/app.ts";

/** A real OpenAI-compatible upstream that holds every answer until the test releases it. */
async function gatedUpstream() {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => held.push(res));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    held,
    release() {
      for (const res of held.splice(0)) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            id: "chatcmpl-gated",
            object: "chat.completion",
            created: 1,
            model: "shutdown-model",
            choices: [{ index: 0, message: { role: "assistant", content: "finished" }, finish_reason: "stop" }],
            usage: { prompt_tokens: 10, completion_tokens: 7, total_tokens: 17 },
          }),
        );
      }
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

t.test("closing finishes the call in flight and commits its ledger and audit record", async (t) => {
  const gate = await gatedUpstream();
  t.teardown(gate.close);
  const upstream = createUpstream({ url: gate.url, timeoutMs: 30_000 });
  t.teardown(() => upstream.close());
  const url = await createTestDatabase(t);
  const service = await build(t, { env: { DATABASE_URL: url }, upstream });
  await enact(service, [
    {
      setModelPolicy: {
        modelId: "shutdown-model",
        approved: true,
        maxTokensPerRequest: 100,
        requestsPerMinute: 60,
        guidelineUri: "https://example.org/shutdown-model",
        guidelineHash: id("shutdown-model"),
      },
    },
  ]);
  const { key } = await apiKeyFor(service);
  const call = () =>
    fetch(`${service.urls.gateway}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "shutdown-model", max_tokens: 20, messages: [{ role: "user", content: "hi" }] }),
    });
  // The gateway's snapshot hears of the policy asynchronously: wait until a call reaches the upstream.
  let inFlight = call();
  await until(async () => {
    if (gate.held.length > 0) return true;
    const early = await Promise.race([inFlight, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    if (early) inFlight = call();
    return undefined;
  }, "a call held by the upstream");

  const closing = service.close();
  await until(async () => (service.app.server.listening ? undefined : true), "the server to stop listening");
  gate.release();
  const res = await inFlight;
  t.equal(res.status, 200, "the call in flight was answered");
  t.equal(
    ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content,
    "finished",
  );
  await closing;

  const database = await openDatabase({ url });
  t.teardown(() => database.close());
  const rows = await database.db
    .selectFrom("gateway_decisions")
    .select(["outcome", "tokens_used"])
    .where("model_id", "=", "shutdown-model")
    .where("admitted", "=", true)
    .execute();
  t.same(
    rows,
    [{ outcome: "COMPLETED", tokens_used: 17 }],
    "settled with the upstream's usage before the database closed",
  );
});
