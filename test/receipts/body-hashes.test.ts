import { createHash } from "node:crypto";
import { Wallet } from "ethers";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import { startTestUpstream } from "../../services/devkit/openai-upstream.ts";

// Two gateways on one database: receipts' body hashes on (the default) and off (RECEIPT_BODY_HASHES=false).
const database = await openMigrated(t, await createTestDatabase(t));
const upstream = await startTestUpstream();
t.teardown(() => upstream.close());
const consumer = Wallet.createRandom().address;
await seedIndex(database, {
  policies: [policyRow("m-open", { allowed_purposes: [], blocked_terms: [] })],
  pool: { allowancePerAddress: 1_000, poolSizePerEpoch: 1_000_000 },
});
const hashing = await buildGateway(t, { database, upstreamUrl: upstream.url });
const plain = await buildGateway(t, { database, upstreamUrl: upstream.url, env: { RECEIPT_BODY_HASHES: "false" } });
const { key } = await issueApiKey(database.db, { address: consumer });

const sha256 = (text: string) => `0x${createHash("sha256").update(text).digest("hex")}`;
// Spaced as no serializer would: the hash is of the bytes sent, not of the parsed request.
const raw = '{ "model":"m-open",\n  "max_tokens": 8, "messages": [{"role":"user","content":"héllo"}] }';

async function post(baseURL: string, body: string, stream = false) {
  const res = await fetch(`${baseURL}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json; charset=utf-8" },
    body: stream ? body.replace('"max_tokens"', '"stream": true, "max_tokens"') : body,
  });
  return { res, text: await res.text(), id: res.headers.get("x-commons-receipt") as string };
}

const recordOf = (requestId: string) =>
  database.db
    .selectFrom("gateway_decisions")
    .select(["request_hash", "response_hash", "receipt_salt"])
    .where("request_id", "=", requestId)
    .executeTakeFirstOrThrow();

t.test("with hashing on, the receipt holds the sha256 of the raw request and of the answer sent", async (t) => {
  const call = await post(hashing.baseURL, raw);
  t.equal(call.res.status, 200);
  const record = await recordOf(call.id);
  t.equal(record.request_hash, sha256(raw));
  t.equal(record.response_hash, sha256(call.text));
  t.match(record.receipt_salt, /^0x[0-9a-f]{64}$/, "each record draws its salt");
  const streamed = await post(hashing.baseURL, raw, true);
  t.equal(streamed.res.status, 200);
  const streamedRecord = await recordOf(streamed.id);
  t.equal(streamedRecord.request_hash, sha256(raw.replace('"max_tokens"', '"stream": true, "max_tokens"')));
  t.equal(
    streamedRecord.response_hash,
    sha256(streamed.text.slice(0, streamed.text.lastIndexOf("data: [DONE]"))),
    "the events before the terminator",
  );
  t.not(streamedRecord.receipt_salt, record.receipt_salt);
});

t.test("with hashing off, the receipt carries no hashes, and the call is served alike", async (t) => {
  const call = await post(plain.baseURL, raw);
  t.equal(call.res.status, 200);
  t.match(call.id, /^req_[0-9a-f]{32}$/, "the receipt id is still sent");
  const record = await recordOf(call.id);
  t.equal(record.request_hash, null);
  t.equal(record.response_hash, null);
  t.match(record.receipt_salt, /^0x[0-9a-f]{64}$/);
});

t.test("the hashing parser refuses what fastify's own refuses", async (t) => {
  for (const gateway of [hashing, plain]) {
    for (const body of ["{not json", "", '{"model":"m-open","__proto__":{"x":1},"messages":[]}']) {
      const call = await post(gateway.baseURL, body);
      t.equal(call.res.status, 400, `${JSON.stringify(body)} refused`);
      t.equal((JSON.parse(call.text) as { error: { code: string } }).error.code, "BAD_USER_INPUT");
    }
  }
});
