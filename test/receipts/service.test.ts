import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { id } from "ethers";
import t from "tap";
import { usageAnchorAt } from "../../services/chain/usage-anchor.ts";
import { runCli } from "../../services/cli/program.ts";
import { openDatabase } from "../../services/db/connection.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { until } from "../../services/devkit/until.ts";
import { RECEIPT_TYPES, receiptFromJson, receiptValues } from "../../services/receipts/encoding.ts";
import { hardhatAccounts } from "../../services/runtime/dev-accounts.ts";
import type { Service } from "../../services/runtime/start-service.ts";
import { apiKeyFor, build, enact } from "../helpers/app.ts";
import { adHoc, TEST_OPERATOR_TOKEN } from "../helpers/graphql.ts";

// Two replicas on one chain and one Postgres, both holding the anchorer's key: one anchors.
const PERIOD_S = 4;
const databaseUrl = await createTestDatabase(t);
const anchoring = {
  ANCHOR_PERIOD_S: String(PERIOD_S),
  ANCHOR_DELAY_MS: "300",
  DATABASE_URL: databaseUrl,
  OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
};
const first = await build(t, { env: anchoring });
const second = await build(t, {
  env: {
    ...anchoring,
    RPC_URL: first.urls.rpc,
    DEPLOYMENT_FILE: first.deploymentFile,
    ANCHOR_PRIVATE_KEY: (hardhatAccounts(19)[18] as { privateKey: string }).privateKey,
  },
});
const replicas = [first, second] as const;
const folder = first.deps.config.DATA_DIR;
const MODEL = "receipts-model";

await enact(first, [
  {
    setModelPolicy: {
      modelId: MODEL,
      approved: true,
      maxTokensPerRequest: 100,
      requestsPerMinute: 600,
      guidelineUri: "https://example.org/receipts-model",
      guidelineHash: id("receipts-model"),
    },
  },
]);
const { key } = await apiKeyFor(first);
// Another consumer, with an API key of its own: a stranger to the first one's receipts.
const { key: strangerKey } = await apiKeyFor(first, 1);

const bodyOf = (model: string) =>
  JSON.stringify({ model, max_tokens: 8, messages: [{ role: "user", content: "count me" }] });

async function call(service: Service, model = MODEL): Promise<Response> {
  return fetch(`${service.urls.gateway}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: bodyOf(model),
  });
}

const RECEIPT = adHoc<
  {
    receipt: {
      requestId: string;
      consumer: string;
      chargedTokens: string;
      leaf: string;
      period: string;
      proof: string[] | null;
      usagePeriod: { root: string; state: string; transaction: string | null; uri: string } | null;
    } | null;
  },
  { requestId: string }
>(`query ($requestId: String!) { receipt(requestId: $requestId) {
  requestId consumer model policyVersion proposalId admitted reasonCode outcome promptTokens completionTokens
  chargedTokens budgetSource epochStart decidedAt settledAt requestHash responseHash salt sealed leaf period proof
  usagePeriod { root state transaction uri } } }`);

async function graphql<T>(service: Service, query: string, variables: unknown = {}, apiKey?: string) {
  const res = await fetch(service.urls.graphql, {
    method: "POST",
    headers: { "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data: T; errors?: { message: string; extensions: { code: string } }[] };
}

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ["--url", second.urls.http, "--rpc", first.urls.rpc, ...argv],
    { COMMONS_API_KEY: key },
    { out: (s) => out.push(s), err: (s) => err.push(s) },
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

// The policy reaches each replica's snapshot asynchronously: wait until both admit.
for (const replica of replicas) {
  await until(async () => ((await call(replica)).status === 200 ? true : undefined), "the model admitted");
}

// Calls through both replicas at the start of one period, admitted and refused: the next period, so
// that the warm-up calls above are not in it.
const warmedIn = Math.floor(Date.now() / (PERIOD_S * 1000));
await until(
  async () =>
    Math.floor(Date.now() / (PERIOD_S * 1000)) > warmedIn && Date.now() % (PERIOD_S * 1000) < 500 ? true : undefined,
  "the next period's start",
  { intervalMs: 20, timeoutMs: 3 * PERIOD_S * 1000 },
);
const answers = await Promise.all([call(first), call(second), call(second, "no-such-model")]);
const ids = answers.map((a) => a.headers.get("x-commons-receipt") as string);
const answerBodies = await Promise.all(answers.map((a) => a.text()));
const sha256 = (text: string) => `0x${createHash("sha256").update(text).digest("hex")}`;

type ReceiptView = NonNullable<Awaited<ReturnType<typeof receiptOf>>>;
async function receiptOf(service: Service, requestId: string) {
  const { data, errors } = await graphql<{ receipt: unknown }>(service, RECEIPT.toString(), { requestId }, key);
  if (!data) throw new Error(`receipt(${requestId}) answered no data: ${JSON.stringify(errors)}`);
  return data.receipt as {
    requestId: string;
    consumer: string;
    chargedTokens: string;
    leaf: string;
    period: string;
    proof: string[] | null;
    usagePeriod: { root: string; state: string; transaction: string | null; uri: string } | null;
  } & Record<string, unknown>;
}

// Polled twice a second, one receipt at a time: the API's per-client rate limit counts these too.
const anchored: ReceiptView[] = [];
for (const requestId of ids) {
  anchored.push(
    await until(
      async () => {
        const r = await receiptOf(first, requestId);
        return r?.usagePeriod?.state === "ANCHORED" ? r : undefined;
      },
      `receipt ${requestId} anchored`,
      { intervalMs: 500, timeoutMs: 60_000 },
    ),
  );
}

t.test("every answer carries its receipt id, admitted or refused", async (t) => {
  t.same(
    answers.map((a) => a.status),
    [200, 200, 404],
  );
  for (const [i, answer] of answers.entries()) {
    t.match(ids[i], /^req_[0-9a-f]{32}$/);
    t.equal(answer.headers.get("x-request-id"), ids[i], "the request id is the receipt id");
  }
});

t.test("both replicas' receipts are in one period's tree, anchored once by one replica", async (t) => {
  const [a, b, refused] = anchored as [ReceiptView, ReceiptView, ReceiptView];
  t.equal(a.period, b.period, "the same period");
  t.equal(a.usagePeriod?.root, b.usagePeriod?.root, "the same tree");
  t.equal(refused.period, a.period);
  t.equal(refused.admitted, false);
  t.equal(refused.reasonCode, "MODEL_NOT_APPROVED");
  t.equal(a.admitted, true);
  t.equal(a.model, MODEL);
  t.equal(a.requestHash, sha256(bodyOf(MODEL)), "the hash of the raw request body");
  t.equal(a.responseHash, sha256(answerBodies[0] as string), "the hash of the answer sent");
  t.equal(a.completionTokens, "8", "the completion's tokens as billed");
  const anchor = usageAnchorAt(first.deps.deployment, first.deps.provider);
  const events = await anchor.queryFilter(anchor.getEvent("PeriodAnchored")(BigInt(a.period)));
  t.equal(events.length, 1, "anchored once");
  t.equal(events[0]?.transactionHash, a.usagePeriod?.transaction);
  for (const r of anchored as ReceiptView[]) {
    t.equal(
      await anchor.getFunction("verifyReceipt")(BigInt(r.period), r.leaf, r.proof),
      true,
      "MerkleProof.verify on chain",
    );
    const { sealed: _s, leaf: _l, period: _p, proof, usagePeriod, ...values } = r;
    const receipt = receiptFromJson(values);
    t.ok(
      StandardMerkleTree.verify(usagePeriod?.root as string, RECEIPT_TYPES, receiptValues(receipt), proof ?? []),
      "and off chain, by the library",
    );
  }
});

t.test("GET /deployment publishes the anchor; a period file exists only once built", async (t) => {
  const published = (await (await fetch(`${first.urls.http}/deployment`)).json()) as { usageAnchor?: string };
  t.equal(published.usageAnchor, first.deps.deployment.usageAnchor);
  t.ok(published.usageAnchor, "the development chain deploys one");
  const future = await fetch(`${first.urls.http}/receipts/periods/${10 ** 12}`);
  t.equal(future.status, 404);
  t.equal(((await future.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
  const bad = await fetch(`${first.urls.http}/receipts/periods/-1`);
  t.equal(((await bad.json()) as { error: { code: string } }).error.code, "BAD_USER_INPUT");
});

t.test("a receipt is its consumer's and the operators': a stranger is told it does not exist", async (t) => {
  const [a] = anchored as [ReceiptView];
  const query = RECEIPT.toString();
  const asStranger = await graphql(first, query, { requestId: a.requestId }, strangerKey);
  t.equal(asStranger.errors?.[0]?.extensions.code, "NOT_FOUND");
  t.equal((asStranger.data as { receipt: unknown } | null)?.receipt ?? null, null, "nothing of it");
  const unknown = await graphql(first, query, { requestId: `req_${"0".repeat(32)}` }, strangerKey);
  t.equal(unknown.errors?.[0]?.extensions.code, "NOT_FOUND", "as for a call that does not exist");
  t.equal(
    asStranger.errors?.[0]?.message.replace(a.requestId, "ID"),
    unknown.errors?.[0]?.message.replace(`req_${"0".repeat(32)}`, "ID"),
    "in the same words",
  );
  const anonymous = await graphql(first, query, { requestId: a.requestId });
  t.equal(anonymous.errors?.[0]?.extensions.code, "UNAUTHENTICATED");
  const asOperator = await graphql<{ receipt: { consumer: string; salt: string } }>(
    second,
    query,
    { requestId: a.requestId },
    TEST_OPERATOR_TOKEN,
  );
  t.equal(asOperator.data.receipt.consumer, a.consumer, "the operator reads anyone's");
  t.equal(asOperator.data.receipt.salt, a.salt);
});

t.test("the period's public file names no consumer, key, request or time, and still builds the root", async (t) => {
  const [a] = anchored as [ReceiptView];
  const text = await (await fetch(a.usagePeriod?.uri as string)).text();
  const file = JSON.parse(text) as { receipts: Record<string, unknown>[] };
  t.equal(file.receipts.length, anchored.length);
  const lower = text.toLowerCase();
  t.notOk(lower.includes(a.consumer.slice(2).toLowerCase()), "no consumer address");
  t.notOk(text.includes(key), "no API key");
  t.notOk(text.includes(key.slice(0, 16)), "not even its prefix");
  for (const r of anchored) {
    t.notOk(text.includes(r.requestId), "no request id");
    t.notOk(lower.includes((r.salt as string).slice(2).toLowerCase()), "no salt");
    t.notOk(text.includes(String(r.decidedAt)), "no time");
    t.notOk(lower.includes((r.requestHash as string).slice(2).toLowerCase()), "no body hash");
  }
  for (const r of file.receipts) {
    t.same(Object.keys(r).sort(), [
      "admitted",
      "chargedTokens",
      "epochStart",
      "model",
      "outcome",
      "policyVersion",
      "proposalId",
      "reasonCode",
      "sealed",
    ]);
  }
  t.ok(
    file.receipts.some((r) => r.sealed === a.sealed),
    "the owner finds its receipt in the file by the sealed value its salt recomputes",
  );
});

t.test("usagePeriods totals the period per model and per budget source", async (t) => {
  const period = (anchored[0] as ReceiptView).period;
  const { data } = await graphql<{
    usagePeriods: {
      edges: {
        node: {
          period: string;
          receiptCount: number;
          byModel: { key: string; calls: number }[];
          bySource: { key: string; calls: number }[];
        };
      }[];
    };
  }>(
    second,
    "{ usagePeriods(first: 50) { edges { node { period receiptCount byModel { key calls tokens } bySource { key calls tokens } } } } }",
  );
  const node = data.usagePeriods.edges.find((e) => e.node.period === period)?.node;
  t.ok(node, "the period is listed");
  t.equal(node?.byModel.find((m) => m.key === MODEL)?.calls, 2);
  t.equal(node?.byModel.find((m) => m.key === "no-such-model")?.calls, 1);
  t.equal(node?.bySource.find((s) => s.key === "")?.calls, 1, "the refusal charged no budget");
  t.notOk(
    node?.bySource.some((s) => s.key.startsWith("grant:")),
    "grants are counted together: a grant's id names its grantee",
  );
  t.equal(
    node?.bySource.reduce((sum, s) => sum + s.calls, 0),
    3,
    "every call counted once",
  );
});

t.test("a consumer lists its own receipts with its API key, and no one else's", async (t) => {
  const query = "query ($c: Address) { receipts(first: 100, consumer: $c) { edges { node { requestId } } } }";
  const own = await graphql<{ receipts: { edges: { node: { requestId: string } }[] } }>(first, query, {}, key);
  const listed = own.data.receipts.edges.map((e) => e.node.requestId);
  for (const requestId of ids) t.ok(listed.includes(requestId), `${requestId} listed`);
  const anonymous = await graphql(first, query);
  t.equal(anonymous.errors?.[0]?.extensions.code, "UNAUTHENTICATED");
  const other = await graphql(first, query, { c: hardhatAccounts(3)[2]?.address }, key);
  t.equal(other.errors?.[0]?.extensions.code, "FORBIDDEN");
});

t.test(
  "commons verify checks a receipt against the chain, and a period file, and names a tampered field's check",
  async (t) => {
    const [a] = anchored as [ReceiptView];
    const one = await cli("verify", a.requestId);
    t.equal(one.code, 0, one.err);
    t.match(one.out, /VERIFIED/);
    t.match(one.out, /ok {3}PROOF/);
    t.match(one.out, /ok {3}ANCHOR/);

    const file = join(folder, "period.json");
    const download = (await (await fetch(a.usagePeriod?.uri as string)).json()) as {
      receipts: Record<string, unknown>[];
    };
    await writeFile(file, JSON.stringify(download));
    const whole = await cli("verify", "--period", a.period, "--file", file);
    t.equal(whole.code, 0, whole.err);
    t.match(whole.out, /VERIFIED/);

    const forged = download.receipts.map((r, i) =>
      i === 0 ? { ...r, chargedTokens: String(Number(r.chargedTokens) + 1) } : r,
    );
    await writeFile(file, JSON.stringify({ receipts: forged }));
    const json = await cli("--json", "verify", "--period", a.period, "--file", file);
    t.equal(json.code, 1);
    t.equal(JSON.parse(json.out).failed, "TOTAL_TOKENS");
    t.equal(JSON.parse(json.err).error.code, "RECEIPT_NOT_VERIFIED");
    await writeFile(file, JSON.stringify({ receipts: download.receipts.slice(1) }));
    t.equal(JSON.parse((await cli("--json", "verify", "--period", a.period, "--file", file)).out).failed, "COUNT");

    // The operator's database changes a settled record after its period was anchored.
    const database = await openDatabase({ url: databaseUrl });
    t.teardown(() => database.close());
    await database.db
      .updateTable("gateway_decisions")
      .set({ tokens_used: 1 })
      .where("request_id", "=", a.requestId)
      .execute();
    const tampered = await cli("--json", "verify", a.requestId);
    t.equal(tampered.code, 1);
    t.equal(JSON.parse(tampered.out).failed, "PROOF");
  },
);
