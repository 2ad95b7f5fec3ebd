import { Writable } from "node:stream";
import t from "tap";
import { createLogger } from "../../services/shared/logger.ts";
import { apiKeyFor, build } from "../helpers/app.ts";

/** A logger at info level whose lines the test reads back, parsed. */
function capturedLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: createLogger("info", destination), lines };
}

t.test("logs never carry a key or a secret, and name the audit record of every gateway call", async (t) => {
  const { logger, lines } = capturedLogger();
  const service = await build(t, { logger });
  const { key } = await apiKeyFor(service);
  const call = (authorization: string, model: string) =>
    fetch(`${service.urls.gateway}/chat/completions`, {
      method: "POST",
      headers: { authorization, "content-type": "application/json", "x-request-id": "caller-chosen-id" },
      body: JSON.stringify({ model, max_tokens: 5, messages: [{ role: "user", content: "hi" }] }),
    });
  // No policy approves this model: refused, and audited like any decision.
  const refused = await call(`Bearer ${key}`, "unapproved-model");
  const unknownKey = await call("Bearer ck_not_a_real_key_0123456789", "unapproved-model");
  t.equal(refused.status, 404, "MODEL_NOT_APPROVED");
  t.equal(unknownKey.status, 401);

  const text = lines.join("\n");
  t.ok(lines.length > 0, "the service logged");
  t.notOk(text.includes(key), "the API key never appears");
  t.notOk(text.includes("ck_not_a_real_key"), "nor a key that was refused");
  for (const holder of service.devChain?.holders ?? []) {
    t.notOk(text.includes(holder.privateKey.slice(2)), "nor a wallet's private key");
  }

  const completed = lines
    .map(
      (line) => JSON.parse(line) as { msg?: string; reqId?: string; auditId?: string; res?: { statusCode?: number } },
    )
    .filter((entry) => entry.msg === "request completed" && entry.auditId !== undefined);
  t.same(
    completed.map((entry) => entry.auditId),
    // A call without a live key has no audit record (it is counted, not audited): only the other.
    [refused.headers.get("x-request-id")],
    "each audited gateway call's completion names the audit record its answer named",
  );
  t.ok(
    completed.every((entry) => entry.reqId === "caller-chosen-id"),
    "beside the caller's own request id",
  );
});
