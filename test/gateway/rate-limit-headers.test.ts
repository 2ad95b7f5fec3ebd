/**
 * OpenAI's rate-limit headers, and what the official openai SDK does with them: it waits as long as a
 * RATE_LIMITED refusal says and then succeeds, and it does not retry a refusal that waiting cannot change.
 */
import { Wallet } from "ethers";
import OpenAI from "openai";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import { startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import { resetDuration } from "../../services/gateway/rate-limit-headers.ts";

const consumer = Wallet.createRandom().address;
const poor = Wallet.createRandom().address;
const GRANT = 10_000;
const EPOCH = 86_400;
// The gateway's clock: 300 ms before a minute ends, moved by the test (see below).
const minuteEnd = Date.now() - (Date.now() % 60_000) + 60_000;
let clock = minuteEnd - 300;

const database = await openMigrated(t, await createTestDatabase(t));
const { db } = database;
const upstream = await startTestUpstream();
t.teardown(() => upstream.close());
await seedIndex(database, {
  policies: [policyRow("m", { allowed_purposes: [], blocked_terms: [], requests_per_minute: 2 })],
  grants: [
    { grantId: 1, grantee: consumer, tokensPerEpoch: GRANT },
    { grantId: 2, grantee: poor, tokensPerEpoch: 10 },
  ],
  pool: { allowancePerAddress: 0, poolSizePerEpoch: 0, epochLength: EPOCH },
  heartbeatAt: new Date(clock),
});
const gw = await buildGateway(t, {
  database,
  upstreamUrl: upstream.url,
  env: { MAX_POLICY_STALENESS_S: "3600" },
  now: () => clock,
});
const { key } = await issueApiKey(db, { address: consumer });
const ask = [{ role: "user" as const, content: "hi" }];

t.test("resets are written as OpenAI writes them", async (t) => {
  t.same(
    [resetDuration(850), resetDuration(6_000), resetDuration(90_000), resetDuration(7_205_000)],
    ["850ms", "6s", "1m30s", "2h0m5s"],
  );
});

t.test("an admitted call carries OpenAI's rate-limit headers", async (t) => {
  const { data, response } = await gw
    .client(key)
    .chat.completions.create({ model: "m", messages: ask, max_tokens: 4 })
    .withResponse();
  const h = (name: string) => response.headers.get(`x-ratelimit-${name}`);
  t.equal(h("limit-requests"), "2");
  t.equal(h("remaining-requests"), "1");
  t.equal(h("reset-requests"), "300ms", "the minute ends in 300 ms");
  t.equal(h("limit-tokens"), String(GRANT));
  t.equal(h("remaining-tokens"), response.headers.get("x-commons-budget-remaining"));
  t.ok(Number(h("remaining-tokens")) < GRANT - (data.usage?.prompt_tokens as number), "less what the call reserved");
  const epochEndsIn = EPOCH * 1000 - (clock % (EPOCH * 1000));
  t.equal(h("reset-tokens"), resetDuration(epochEndsIn));
});

t.test("the openai SDK waits as long as a RATE_LIMITED refusal says, then succeeds", async (t) => {
  const statuses: number[] = [];
  // The SDK's own fetch, watched: once it has been told to wait, the gateway's clock reaches the next
  // minute (the wait it was told is what the gateway's clock had left of this one).
  const watched: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    statuses.push(response.status);
    if (response.status === 429) clock = minuteEnd + 1;
    return response;
  };
  const client = gw.client(key, { maxRetries: 2, fetch: watched });
  // The minute's second request, then a third: refused, waited for, admitted in the next minute.
  await client.chat.completions.create({ model: "m", messages: ask, max_tokens: 1 });
  const started = performance.now();
  const { response } = await client.chat.completions
    .create({ model: "m", messages: ask, max_tokens: 1 })
    .withResponse();
  const waited = performance.now() - started;
  t.same(statuses, [200, 429, 200], "refused once, then admitted");
  t.ok(waited >= 250, `the SDK waited the retry-after-ms it was given (${Math.round(waited)} ms)`);
  t.equal(response.headers.get("x-ratelimit-remaining-requests"), "1", "a new minute");
  const refused = await db
    .selectFrom("gateway_decisions")
    .select("reason_code")
    .where("consumer", "=", consumer)
    .where("admitted", "=", false)
    .execute();
  t.same(
    refused.map((r) => r.reason_code),
    ["RATE_LIMITED"],
  );
});

t.test("a RATE_LIMITED refusal says how long to wait; an exhausted budget says not to retry", async (t) => {
  // A minute of its own, 1.5 s before its end.
  clock = minuteEnd + 120_000 - 1_500;
  const client = gw.client(key);
  await client.chat.completions.create({ model: "m", messages: ask, max_tokens: 1 });
  await client.chat.completions.create({ model: "m", messages: ask, max_tokens: 1 });
  const limited = await client.chat.completions
    .create({ model: "m", messages: ask, max_tokens: 1 })
    .catch((e: unknown) => e);
  t.ok(limited instanceof OpenAI.RateLimitError);
  const headers = (limited as InstanceType<typeof OpenAI.RateLimitError>).headers;
  t.equal(headers.get("retry-after-ms"), "1500");
  t.equal(headers.get("retry-after"), "2");
  t.equal(headers.get("x-ratelimit-remaining-requests"), "0");

  const statuses: number[] = [];
  const watched: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    statuses.push(response.status);
    return response;
  };
  const { key: poorKey } = await issueApiKey(db, { address: poor });
  const exhausted = await gw
    .client(poorKey, { maxRetries: 2, fetch: watched })
    .chat.completions.create({ model: "m", messages: ask, max_tokens: 50 })
    .catch((e: unknown) => e);
  t.match(exhausted, { status: 429, code: "BUDGET_EXHAUSTED" });
  t.same(statuses, [429], "the SDK did not retry (x-should-retry: false)");
  t.equal((exhausted as InstanceType<typeof OpenAI.APIError>).headers?.get("x-ratelimit-remaining-tokens"), "0");
});
