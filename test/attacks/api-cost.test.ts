/**
 * One request must not buy the work of hundreds: aliases, repeated root fields and page sizes given as
 * variables are counted before anything runs, subscriptions are held to the same limits however they
 * are sent, and one client cannot open connections or subscriptions without bound.
 */
import { once } from "node:events";
import Fastify from "fastify";
import { parse } from "graphql";
import t from "tap";
import WebSocket from "ws";
import apiPlugin from "../../services/api/plugin.ts";
import { until } from "../../services/devkit/until.ts";
import { GOVERNANCE_CHANNEL } from "../../services/indexer/notifications.ts";
import { createRpcProvider } from "../../services/runtime/rpc-provider.ts";
import { codesOf, createApiFixture, dataOf, TEST_OPERATOR_TOKEN } from "../helpers/graphql.ts";
import { createRpcProxy } from "../helpers/rpc-proxy.ts";
import { connect as connectTo, type Message, tryConnect, type WsClient } from "../helpers/ws-client.ts";

const api = await createApiFixture(t, {
  listen: true,
  env: { API_SUBSCRIPTIONS_PER_CONNECTION: "2", API_WS_CONNECTIONS_PER_CLIENT: "3", API_MAX_RESPONSE_BYTES: "4096" },
});
const { port } = api.app.server.address() as { port: number };
const consumer = api.chain.signers[1]?.address as string;

const url = `ws://127.0.0.1:${port}/graphql`;
const connect = () => connectTo(url);

/** A subscription that does start: it hears the next proposal notification (announced until it does). */
async function heard(client: WsClient, id: string): Promise<Message> {
  const announce = setInterval(() => {
    void api.database.notify(GOVERNANCE_CHANNEL, JSON.stringify({ type: "proposal", proposalId: "1" }));
  }, 50);
  try {
    let message: Message;
    do message = await client.next();
    while (message.id !== id);
    return message;
  } finally {
    clearInterval(announce);
  }
}

const nonces = async () =>
  Number(
    (
      await api.database.db
        .selectFrom("siwe_nonces")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );

t.test("alias amplification is refused before it runs, saying what to do", async (t) => {
  const statuses = Array.from(
    { length: 500 },
    (_, i) => `s${i}: policyStatus(model: "m", consumer: "${consumer}") { model }`,
  ).join(" ");
  const many = await api.gql(`{ ${statuses} }`);
  t.same(codesOf(many), ["QUERY_TOO_COMPLEX"]);
  t.equal(many.status, 400);
  t.match(many.errors?.[0]?.message, /separate requests/);
  t.equal(many.data, null);

  const before = await nonces();
  const issued = Array.from({ length: 1000 }, (_, i) => `n${i}: siweNonce { nonce }`).join(" ");
  const amplified = await api.gql(`mutation { ${issued} }`);
  t.same(codesOf(amplified), ["QUERY_TOO_COMPLEX"]);
  t.equal(await nonces(), before, "not one nonce was issued");
  const two = await api.gql(`mutation { a: siweNonce { nonce } b: siweNonce { nonce } }`);
  t.same(codesOf(two), ["QUERY_TOO_COMPLEX"], "one mutation per request");
  dataOf(await api.gql(`mutation { siweNonce { nonce } }`));
  t.equal(await nonces(), before + 1);

  const nested = `{ policies { edges { node { ${Array.from({ length: 60 }, (_, i) => `v${i}: current { version }`).join(" ")} } } } }`;
  t.same(codesOf(await api.gql(nested)), ["QUERY_TOO_COMPLEX"], "sixty aliases below the root");
});

t.test("expensive fields weigh what they cost", async (t) => {
  const twenty = Array.from({ length: 20 }, (_, i) => `s${i}: syncStatus { chainHead }`).join(" ");
  dataOf(await api.gql(`{ ${twenty} }`));
  const statuses = Array.from(
    { length: 20 },
    (_, i) => `s${i}: policyStatus(model: "m", consumer: "${consumer}") { recentDecisions(first: 100) { id model } }`,
  ).join(" ");
  const heavy = await api.gql(`{ ${statuses} }`, {}, { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` });
  // 20 × (1 + 100 × 2) = 4,020 if every field cost 1; a policy decision costs far more than a field.
  t.same(codesOf(heavy), ["QUERY_TOO_COMPLEX"], "20 policy decisions with 100 records each");
  t.ok((heavy.errors?.[0]?.extensions.complexity as number) > 5000);
});

t.test("the chain head is read once per request, however many fields ask", async (t) => {
  // An instance of the API whose provider reaches the chain through an RPC proxy that counts the calls.
  const calls: string[] = [];
  const proxy = await createRpcProxy({
    send: (method, params) => {
      calls.push(method);
      return api.chain.provider.send(method, params);
    },
  });
  t.teardown(() => proxy.close());
  // The provider the service makes (it keeps no response cache, so that relayer nonces are read fresh).
  const provider = createRpcProvider(proxy.url, api.chain.deployment.chainId, api.deps.metrics);
  t.teardown(() => provider.destroy());
  const app = Fastify({ logger: false });
  await app.register(apiPlugin, { deps: { ...api.deps, provider } });
  t.teardown(() => app.close());

  const twenty = Array.from({ length: 20 }, (_, i) => `s${i}: syncStatus { chainHead lag }`).join(" ");
  const answer = await app.inject({
    method: "POST",
    url: "/graphql",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ query: `{ ${twenty} }` }),
  });
  t.equal(answer.statusCode, 200);
  t.equal(calls.filter((m) => m === "eth_blockNumber").length, 1);
});

t.test("a fragment bomb is refused without being expanded", async (t) => {
  const levels = 30;
  const fragments = Array.from(
    { length: levels },
    (_, i) => `fragment F${i} on Proposal { ${i === levels - 1 ? "id" : `...F${i + 1} ...F${i + 1}`} }`,
  ).join("\n");
  const bomb = await api.gql(`{ proposal(id: "1") { ...F0 } }\n${fragments}`);
  t.same(codesOf(bomb), ["QUERY_TOO_COMPLEX"]);
});

t.test("an answer larger than API_MAX_RESPONSE_BYTES is refused", async (t) => {
  const big = await api.gql(`mutation($input: DraftProposalInput!) { draftProposal(input: $input) { description } }`, {
    input: {
      description: "x".repeat(8000),
      proposer: consumer,
      actions: [{ suspendModel: { modelId: "m", reason: "r" } }],
    },
  });
  t.equal(big.status, 400);
  t.same(codesOf(big), ["QUERY_TOO_COMPLEX"]);
  t.match(big.errors?.[0]?.extensions, { maximum: 4096 });
});

t.test("bad cursors are the client's mistake, on every list", async (t) => {
  const cursor = (position: unknown) => Buffer.from(JSON.stringify(position)).toString("base64url");
  const lists = [
    `{ proposals(after: "${cursor(["x", "y"])}") { totalCount } }`,
    `{ proposals(after: "${cursor([1, 2 ** 40])}") { totalCount } }`,
    `{ votes(after: "${cursor(["x", 1])}") { totalCount } }`,
    `{ delegates(after: "${cursor(["much", "0xabc"])}") { totalCount } }`,
    `{ allocations(after: "${cursor(["abc"])}") { totalCount } }`,
    `{ decisions(after: "${cursor(["abc"])}") { edges { cursor } } }`,
    `{ decisions(after: "${cursor(["99999999999999999999999"])}") { edges { cursor } } }`,
    `{ policies(after: "${cursor([5])}") { edges { cursor } } }`,
  ];
  for (const query of lists) {
    const answer = await api.gql(query, {}, { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` });
    t.same(codesOf(answer), ["BAD_USER_INPUT"], query);
  }
});

t.test("a subscription sent as a pre-parsed document is held to the same limits", async (t) => {
  const client = await connect();
  t.teardown(() => client.close());
  const costly = parse(
    `subscription { voteCast { proposal { votes(first: 100) { edges { node { proposal { votes(first: 60) { totalCount } } } } } } } }`,
    { noLocation: true },
  );
  client.subscribe("costly", costly);
  const refused = await client.next();
  t.match(refused, { type: "error", id: "costly" });
  t.equal(refused.payload?.[0]?.extensions?.code, "QUERY_TOO_COMPLEX");

  client.subscribe("unknown", parse(`subscription { voteCast { nope } }`, { noLocation: true }));
  const invalid = await client.next();
  t.match(invalid, { type: "error", id: "unknown" });
  t.equal(invalid.payload?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
});

t.test("a subscription's variables count toward its cost", async (t) => {
  const client = await connect();
  t.teardown(() => client.close());
  client.subscribe(
    "sized",
    `subscription($n: Int) { voteCast { proposal { votes(first: $n) { edges { node { proposal { votes(first: $n) { totalCount } } } } } } } }`,
    { n: 100 },
  );
  const refused = await client.next();
  t.match(refused, { type: "error", id: "sized" });
  t.equal(refused.payload?.[0]?.extensions?.code, "QUERY_TOO_COMPLEX");
});

t.test("subscriptions per connection and connections per client are capped", async (t) => {
  const client = await connect();
  t.teardown(() => client.close());
  client.subscribe("a", `subscription { proposalUpdated { id } }`);
  client.subscribe("b", `subscription { proposalUpdated { id } }`);
  await heard(client, "b");
  client.subscribe("c", `subscription { proposalUpdated { id } }`);
  let third: Message;
  do third = await client.next();
  while (third.id !== "c");
  t.match(third, { type: "error", id: "c" });
  t.equal(third.payload?.[0]?.extensions?.code, "RATE_LIMITED");
  client.complete("a");
  client.subscribe("d", `subscription { proposalUpdated { id } }`);
  t.match(await heard(client, "d"), { type: "next", id: "d" }, "a completed subscription frees its place");

  // This client already holds one connection (above); two more are allowed, the fourth is refused.
  const more = [await connect(), await connect()];
  t.teardown(() => {
    for (const c of more) c.close();
  });
  const refusedSocket = new WebSocket(url, "graphql-transport-ws");
  refusedSocket.on("error", () => {});
  const [, response] = (await once(refusedSocket, "unexpected-response")) as [unknown, { statusCode: number }];
  t.equal(response.statusCode, 429, "the fourth connection is refused at the upgrade");
  refusedSocket.terminate();

  more[0]?.close();
  const again = await until(() => tryConnect(url), "a closed connection to free its place");
  again.close();
});
