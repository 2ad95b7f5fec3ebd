/**
 * Attack: flood the gateway with calls that have no valid key, or with caller-chosen model ids, to fill
 * the audit table, the metrics registry or the key cache. Refusals must stay cheap and leave nothing.
 */
import { randomBytes } from "node:crypto";
import t from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { codeOf, gatewayUnderAttack } from "./gateway-target.ts";

const { db, upstream, gw, consumers } = await gatewayUnderAttack(t);
const consumer = consumers[0]?.address as string;
const ask = [{ role: "user" as const, content: "hi" }];

const audited = async () =>
  Number(
    (
      await db
        .selectFrom("gateway_decisions")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );
const unauthenticated = async () =>
  Object.fromEntries((await gw.metrics.unauthenticated.get()).values.map((v) => [v.labels.reason, v.value]));

t.test("calls without a live key are refused, counted, and write nothing", async (t) => {
  const revoked = await issueApiKey(db, { address: consumer });
  await db.updateTable("api_keys").set({ revoked_at: new Date() }).where("id", "=", revoked.id).execute();
  const FLOOD = 50;
  const calls = [
    ...Array.from({ length: FLOOD }, (_, i) =>
      gw
        // Half of them shaped like our keys (looked up once, never cached), half not (never looked up).
        .client(`${i % 2 === 0 ? "sk-commons-" : "ck_"}${randomBytes(24).toString("hex")}`)
        .chat.completions.create({ model: `model-${randomBytes(4).toString("hex")}`, messages: ask }),
    ),
    gw.client(revoked.key).chat.completions.create({ model: "m", messages: ask }),
  ];
  const codes = await Promise.all(calls.map(codeOf));
  const noKey = await fetch(`${gw.baseURL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "m", messages: ask }),
  });
  codes.push(((await noKey.json()) as { error: { code: string } }).error.code);
  t.ok(
    codes.every((c) => c === "INVALID_API_KEY"),
    "every one refused INVALID_API_KEY",
  );
  t.equal(await audited(), 0, "no audit record");
  t.same(await unauthenticated(), { unknown: FLOOD, revoked: 1, missing: 1 }, "counted by reason");
  const models = (await gw.metrics.decisions.get()).values.map((v) => v.labels.model);
  t.ok(
    models.every((m) => m === "m" || m === "other"),
    "no metric label from a caller's model id",
  );
  t.equal(upstream.bodies.length, 0);
});

t.test("an unknown model id with a live key is audited, and labelled `other` in metrics", async (t) => {
  const client = gw.client((await issueApiKey(db, { address: consumer })).key);
  t.equal(
    await codeOf(client.chat.completions.create({ model: "caller-chosen-model", messages: ask })),
    "MODEL_NOT_APPROVED",
  );
  const refused = (await gw.metrics.decisions.get()).values.filter((v) => v.labels.reason === "MODEL_NOT_APPROVED");
  t.same(
    refused.map((v) => [v.labels.model, v.value]),
    [["other", 1]],
  );
  t.equal(await audited(), 1);
});

t.test("a model id longer than the registry's maximum is refused before anything else", async (t) => {
  const before = await unauthenticated();
  t.equal(
    await codeOf(gw.client("ck_whatever").chat.completions.create({ model: "x".repeat(129), messages: ask })),
    "BAD_USER_INPUT",
  );
  t.same(await unauthenticated(), before, "not even the key was looked at");
});
