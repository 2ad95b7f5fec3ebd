/**
 * Who a client is decides its quota and what it may read: only a verified credential or the address the
 * connection came from counts, never a header anyone can make up; a consumer's budget is its own; the
 * operator can revoke any key.
 */
import Fastify from "fastify";
import t from "tap";
import apiPlugin from "../../services/api/plugin.ts";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { codesOf, createApiFixture, dataOf, type GraphQLResponse, TEST_OPERATOR_TOKEN } from "../helpers/graphql.ts";

const LIMIT = 5;
const api = await createApiFixture(t);

/** Another instance of the API on the same database and chain, with some settings of its own. */
async function instance(config: Partial<typeof api.deps.config>, options: { trustProxy?: string } = {}) {
  const app = Fastify({ logger: false, ...(options.trustProxy ? { trustProxy: options.trustProxy } : {}) });
  await app.register(apiPlugin, { deps: { ...api.deps, config: { ...api.deps.config, ...config } } });
  t.teardown(() => app.close());
  return app;
}
const limited = await instance({ API_RATE_LIMIT_PER_MINUTE: LIMIT });
const consumer = api.chain.signers[1]?.address as string;
const stranger = api.chain.signers[2]?.address as string;
const operator = { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` };

async function ask(app: typeof api.app, remoteAddress: string, headers: Record<string, string> = {}) {
  return app.inject({
    method: "POST",
    url: "/graphql",
    remoteAddress,
    headers: { "content-type": "application/json", ...headers },
    payload: JSON.stringify({ query: "{ syncStatus { lag } }" }),
  });
}

t.test("a made-up API key or X-Forwarded-For does not buy a fresh quota", async (t) => {
  const statuses: number[] = [];
  for (let i = 0; i <= LIMIT; i++) {
    const response = await ask(limited, "10.0.0.1", {
      authorization: `Bearer sk-commons-made-up-${i}`,
      "x-forwarded-for": `203.0.113.${i}`,
    });
    statuses.push(response.statusCode);
  }
  t.equal(statuses.at(-1), 429, "the request past the limit is refused whatever it claims to be");
  t.equal((await ask(limited, "10.0.0.2")).statusCode, 200, "another address has its own quota");
});

t.test("a consumer's keys share one quota, counted by the address they verify to", async (t) => {
  const keys = await Promise.all([1, 2].map(() => issueApiKey(api.database.db, { address: consumer })));
  const statuses: number[] = [];
  for (let i = 0; i <= LIMIT; i++) {
    // From a different address each time: the verified identity is what counts.
    const key = keys[i % 2]?.key as string;
    statuses.push((await ask(limited, `10.0.1.${i}`, { authorization: `Bearer ${key}` })).statusCode);
  }
  t.same(statuses.slice(0, LIMIT), Array(LIMIT).fill(200));
  t.equal(statuses.at(-1), 429);
});

t.test("with TRUST_PROXY, X-Forwarded-For names the client, but only from that proxy", async (t) => {
  // As buildServer makes the server for TRUST_PROXY=10.9.9.9.
  const proxied = await instance(
    { API_RATE_LIMIT_PER_MINUTE: LIMIT, TRUST_PROXY: "10.9.9.9" },
    { trustProxy: "10.9.9.9" },
  );
  for (let i = 0; i <= LIMIT; i++) {
    t.equal((await ask(proxied, "10.9.9.9", { "x-forwarded-for": `198.51.100.${i}` })).statusCode, 200);
  }
  const direct: number[] = [];
  for (let i = 0; i <= LIMIT; i++) {
    direct.push((await ask(proxied, "10.0.2.1", { "x-forwarded-for": `198.51.100.${i}` })).statusCode);
  }
  t.equal(direct.at(-1), 429, "a client that is not the proxy cannot name itself");
});

t.test("a consumer's budget is private to its key and the operator", async (t) => {
  const key = (await issueApiKey(api.database.db, { address: consumer })).key;
  const strangerKey = (await issueApiKey(api.database.db, { address: stranger })).key;
  const STATUS = `query($c: Address!) { policyStatus(model: "m", consumer: $c) {
    model communityPoolLeft budgets { source left } requestsThisMinute admitted reason
    recentDecisions { id } privateAccess { granted reason } } }`;
  const status = async (headers: Record<string, string>) =>
    (await api.gql(STATUS, { c: consumer }, headers)) as GraphQLResponse;

  for (const [who, headers] of [
    ["anyone", {}],
    ["another consumer", { authorization: `Bearer ${strangerKey}` }],
  ] as const) {
    const seen = dataOf(await status(headers)).policyStatus;
    t.match(
      seen,
      { model: "m", budgets: null, requestsThisMinute: null, admitted: null, reason: null, recentDecisions: null },
      who,
    );
    t.equal(seen.privateAccess.granted, false);
    t.match(seen.privateAccess.reason, /private to/, "says why and what to send");
    t.ok(seen.communityPoolLeft, "the shared pool stays public");
  }
  for (const [who, headers] of [
    ["the consumer", { authorization: `Bearer ${key}` }],
    ["the operator", operator],
  ] as const) {
    const seen = dataOf(await status(headers)).policyStatus;
    t.equal(seen.privateAccess.granted, true, who);
    t.ok(Array.isArray(seen.budgets) && seen.budgets.length > 0, `${who} sees the budgets`);
    t.same(seen.recentDecisions, []);
  }
});

t.test("the README's policyStatus example works as written, without a key", async (t) => {
  const example = `query {
  policyStatus(model: "demo-1", consumer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", purpose: "education") {
    policy { version approved maxTokensPerRequest enactedBy { proposalId transactionHash blockNumber } }
    budgets { source grantId granted used left }
    admitted reason
    recentDecisions { requestId admitted reasonCode tokensUsed }
    privateAccess { granted reason }
  }
  syncStatus { indexedBlock chainHead lag }
}`;
  const answer = await api.gql(example);
  t.same(answer.errors, undefined);
  t.match(answer.data?.policyStatus, { policy: null, budgets: null, privateAccess: { granted: false } });
  t.ok(answer.data?.syncStatus);
});

t.test("the operator revokes any consumer's key; a consumer only its own", async (t) => {
  const theirs = await issueApiKey(api.database.db, { address: stranger });
  const mine = await issueApiKey(api.database.db, { address: consumer });
  const revoke = (id: string, headers: Record<string, string>) =>
    api.gql(`mutation($id: ID!) { revokeApiKey(id: $id) }`, { id }, headers);
  t.same(codesOf(await revoke(theirs.id, { authorization: `Bearer ${mine.key}` })), ["NOT_FOUND"]);
  t.same(dataOf(await revoke(theirs.id, operator)), { revokeApiKey: true });
  const usage = await api.gql(`{ usage { model } }`, {}, { authorization: `Bearer ${theirs.key}` });
  t.same(codesOf(usage), ["UNAUTHENTICATED"], "the revoked key no longer works");
  t.same(codesOf(await revoke(theirs.id, operator)), ["NOT_FOUND"], "already revoked");
});

t.test("only the operator token itself is the operator", async (t) => {
  const sameLength = "x".repeat(TEST_OPERATOR_TOKEN.length);
  for (const token of [sameLength, `${TEST_OPERATOR_TOKEN}x`, TEST_OPERATOR_TOKEN.slice(0, -1)]) {
    const answer = await api.gql(`{ usage { model } }`, {}, { authorization: `Bearer ${token}` });
    t.same(codesOf(answer), ["UNAUTHENTICATED"]);
  }
  dataOf(await api.gql(`{ usage { model } }`, {}, operator));
});
