import t from "tap";
import { MAX_BODY_BYTES } from "../../services/api/limits.ts";
import { codesOf, createApiFixture, dataOf } from "../helpers/graphql.ts";

const api = await createApiFixture(t, { env: { API_RATE_LIMIT_PER_MINUTE: "40" } });

t.test("queries deeper or costlier than the limits are refused before they run", async (t) => {
  const deep = await api.gql(
    `{ votes { edges { node { proposal { votes { edges { node { proposal { votes { edges { node { voter } } } } } } } } } } } }`,
  );
  t.same(codesOf(deep), ["QUERY_TOO_COMPLEX"]);
  t.equal(deep.data, null);

  const costly = await api.gql(
    `query($n: Int!) { proposals(first: $n) { edges { node { votes(first: $n) { edges { node { voter } } } } } } }`,
    { n: 100 },
  );
  t.same(codesOf(costly), ["QUERY_TOO_COMPLEX"], "page sizes given as variables count");
  t.match(costly.errors?.[0]?.extensions, { maximum: 5000 });

  t.same(codesOf(await api.gql(`{ proposals(first: 1000) { totalCount } }`)), ["BAD_USER_INPUT"], "pages are capped");
  const fine = await api.gql(`{ proposals(first: 20) { totalCount edges { node { id tally { for } } } } }`);
  t.same(fine.errors, undefined);
});

t.test("errors carry a code and a message, never a stack trace", async (t) => {
  const unknownField = await api.gql(`{ proposals { nope } }`);
  t.same(codesOf(unknownField), ["GRAPHQL_VALIDATION_FAILED"]);
  const badCursor = await api.gql(`{ proposals(after: "not-a-cursor") { totalCount } }`);
  t.same(codesOf(badCursor), ["BAD_USER_INPUT"]);
  t.match(badCursor.errors?.[0]?.message, /cursor/);
  const badAddress = await api.gql(`{ allocations(grantee: "0x123") { totalCount } }`);
  t.same(codesOf(badAddress), ["BAD_USER_INPUT"]);
  for (const response of [unknownField, badCursor, badAddress]) {
    t.notMatch(JSON.stringify(response), /\bat .*\.ts:\d+/, "no stack frames in the answer");
    t.notOk(response.errors?.[0]?.extensions.stack);
  }
  t.same(
    dataOf(await api.gql(`{ proposal(id: "42") { id } }`)),
    { proposal: null },
    "an unknown id is null, not an error",
  );
});

t.test("a body above the limit is refused", async (t) => {
  const response = await api.app.inject({
    method: "POST",
    url: "/graphql",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ query: `{ syncStatus { lag } }`, variables: { pad: "x".repeat(MAX_BODY_BYTES) } }),
  });
  t.equal(response.statusCode, 413);
  t.equal(response.json().errors[0].extensions.code, "BAD_USER_INPUT");
});

t.test("GET serves queries (not mutations) and GraphiQL is served", async (t) => {
  const get = await api.app.inject({
    method: "GET",
    url: `/graphql?query=${encodeURIComponent("{ syncStatus { lag } }")}`,
  });
  t.equal(get.statusCode, 200);
  t.equal(get.json().data.syncStatus.lag >= 0, true);
  const mutation = await api.app.inject({
    method: "GET",
    url: `/graphql?query=${encodeURIComponent("mutation { siweNonce { nonce } }")}`,
  });
  t.equal(mutation.json().errors[0].extensions.code, "BAD_USER_INPUT");
  const ide = await api.app.inject({ method: "GET", url: "/graphiql" });
  t.equal(ide.statusCode, 200);
});

t.test("each client is rate limited on its own", async (t) => {
  const ask = (ip: string) =>
    api.app.inject({
      method: "POST",
      url: "/graphql",
      remoteAddress: ip,
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ query: "{ syncStatus { lag } }" }),
    });
  let refused: Awaited<ReturnType<typeof ask>> | undefined;
  for (let i = 0; i < 41 && !refused; i++) {
    const response = await ask("10.0.0.1");
    if (response.statusCode === 429) refused = response;
  }
  t.ok(refused, "the 41st request in a minute is refused");
  t.equal(refused?.json().errors[0].extensions.code, "RATE_LIMITED");
  t.equal((await ask("10.0.0.2")).statusCode, 200, "another client is not affected");
});
