/**
 * Sign-In with Ethereum issues keys: a message must be for this service (domain, URI), fresh, and a
 * client can neither sign in without bound nor pile up keys on one address. A browser on localhost signs
 * for the host it sees.
 */
import { request } from "node:http";
import { Wallet } from "ethers";
import Fastify from "fastify";
import { SiweMessage } from "siwe";
import t from "tap";
import apiPlugin from "../../services/api/plugin.ts";
import { createApiFixture, type GraphQLResponse, TEST_OPERATOR_TOKEN, TEST_SIWE_DOMAIN } from "../helpers/graphql.ts";

const api = await createApiFixture(t, {
  listen: true,
  // No SIWE_DOMAIN: the service's own HOST:PORT, as `npm start` runs it.
  env: { SIWE_DOMAIN: "", API_KEYS_PER_ADDRESS: "2" },
});
const { port } = api.app.server.address() as { port: number };
const chainId = api.chain.deployment.chainId;

/** POST /graphql over a real socket to 127.0.0.1, naming `host` in the Host header (as a browser would). */
function post(
  host: string,
  query: string,
  variables: Record<string, unknown> = {},
  client = "",
  to = port,
): Promise<GraphQLResponse> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query, variables });
    const req = request(
      {
        host: "127.0.0.1",
        port: to,
        path: "/graphql",
        method: "POST",
        headers: {
          host,
          "content-type": "application/json",
          ...(client ? { authorization: `Bearer ${client}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ...JSON.parse(Buffer.concat(chunks).toString()) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const here = `127.0.0.1:${port}`;
const reasonOf = (r: GraphQLResponse) => [r.errors?.[0]?.extensions.code, r.errors?.[0]?.extensions.reason];

async function nonceFor(host: string): Promise<{ nonce: string; domain: string }> {
  const answer = await post(host, `mutation { siweNonce { nonce domain } }`);
  if (!answer.data) throw new Error(JSON.stringify(answer.errors));
  return answer.data.siweNonce;
}

async function signIn(
  wallet: Pick<Wallet, "address" | "signMessage">,
  fields: Partial<ConstructorParameters<typeof SiweMessage>[0] & object> = {},
  options: { host?: string; label?: string } = {},
) {
  const host = options.host ?? here;
  const { nonce, domain } = await nonceFor(host);
  const text = new SiweMessage({
    domain,
    address: wallet.address,
    statement: "Sign in to AI Commons",
    uri: `http://${domain}`,
    version: "1",
    chainId,
    nonce,
    issuedAt: new Date().toISOString(),
    ...fields,
  }).prepareMessage();
  return post(
    host,
    `mutation($m: String!, $s: Bytes!, $l: String) { createApiKey(message: $m, signature: $s, label: $l) { id key } }`,
    { m: text, s: await wallet.signMessage(text), l: options.label ?? null },
  );
}

t.test("a browser on localhost signs in for localhost; a refused domain names the expected one", async (t) => {
  const wallet = Wallet.createRandom();
  const local = `localhost:${port}`;
  t.equal((await nonceFor(local)).domain, local, "the nonce names the host the browser sees");
  const signedIn = await signIn(wallet, {}, { host: local });
  t.match(signedIn.data?.createApiKey.key, /^sk-commons-/);

  const elsewhere = await signIn(wallet, { domain: TEST_SIWE_DOMAIN, uri: `https://${TEST_SIWE_DOMAIN}` });
  t.same(reasonOf(elsewhere), ["UNAUTHENTICATED", "DOMAIN_MISMATCH"]);
  t.match(elsewhere.errors?.[0]?.message, new RegExp(`expects ${here.replaceAll(".", "\\.")}`));
  t.same(elsewhere.errors?.[0]?.extensions.expected, [here, "127.0.0.1:4000"]);

  const otherPort = await signIn(wallet, { domain: `localhost:${port + 1}`, uri: `http://localhost:${port + 1}` });
  t.same(reasonOf(otherPort), ["UNAUTHENTICATED", "DOMAIN_MISMATCH"], "a loopback name on another port");
});

t.test("with SIWE_DOMAIN set, only that domain signs in, whatever host a request names", async (t) => {
  const app = Fastify({ logger: false });
  await app.register(apiPlugin, {
    deps: { ...api.deps, config: { ...api.deps.config, SIWE_DOMAIN: TEST_SIWE_DOMAIN } },
  });
  t.teardown(() => app.close());
  await app.listen({ host: "127.0.0.1", port: 0 });
  const configured = (app.server.address() as { port: number }).port;
  const answer = await post(`localhost:${configured}`, `mutation { siweNonce { domain } }`, {}, "", configured);
  t.equal(answer.data?.siweNonce.domain, TEST_SIWE_DOMAIN);
});

t.test("the message's URI and issuedAt are checked", async (t) => {
  const wallet = Wallet.createRandom();
  t.same(reasonOf(await signIn(wallet, { uri: "https://evil.example/login" })), ["UNAUTHENTICATED", "URI_MISMATCH"]);
  const future = new Date(Date.now() + 3_600_000).toISOString();
  t.same(reasonOf(await signIn(wallet, { issuedAt: future })), ["UNAUTHENTICATED", "ISSUED_IN_FUTURE"]);
  const old = new Date(Date.now() - 86_400_000).toISOString();
  t.same(reasonOf(await signIn(wallet, { issuedAt: old })), ["UNAUTHENTICATED", "EXPIRED_MESSAGE"]);
  const long = await signIn(wallet, {}, { label: "l".repeat(65) });
  t.same(reasonOf(long), ["BAD_USER_INPUT", undefined], "a label longer than 64 characters");
});

t.test("an address holds at most API_KEYS_PER_ADDRESS live keys", async (t) => {
  const wallet = Wallet.createRandom();
  const first = await signIn(wallet);
  await signIn(wallet);
  t.same(reasonOf(await signIn(wallet)), ["FORBIDDEN", "KEY_LIMIT"]);
  const revoked = await post(
    here,
    `mutation($id: ID!) { revokeApiKey(id: $id) }`,
    { id: first.data?.createApiKey.id },
    TEST_OPERATOR_TOKEN,
  );
  t.same(revoked.data, { revokeApiKey: true });
  t.match((await signIn(wallet)).data?.createApiKey.key, /^sk-commons-/, "a revoked key frees its place");
});

t.test("a client signs in at most SIGN_INS_PER_HOUR times, failed attempts included, on every replica", async (t) => {
  const replicas = await Promise.all(
    [1, 2].map(async () => {
      const app = Fastify({ logger: false });
      await app.register(apiPlugin, { deps: { ...api.deps, config: { ...api.deps.config, SIGN_INS_PER_HOUR: 3 } } });
      t.teardown(() => app.close());
      return app;
    }),
  );
  const attempt = async (app: (typeof replicas)[number]): Promise<GraphQLResponse> => {
    const response = await app.inject({
      method: "POST",
      url: "/graphql",
      remoteAddress: "10.0.5.1",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ query: `mutation { createApiKey(message: "hello", signature: "0x00") { id } }` }),
    });
    return { status: response.statusCode, ...response.json() };
  };
  for (const app of [replicas[0], replicas[1], replicas[0]]) {
    t.same(reasonOf(await attempt(app as (typeof replicas)[number])), ["BAD_USER_INPUT", undefined]);
  }
  const refused = await attempt(replicas[1] as (typeof replicas)[number]);
  t.same(reasonOf(refused), ["RATE_LIMITED", "SIGN_IN_QUOTA"]);
  t.ok(refused.errors?.[0]?.extensions.retryAt);
});
