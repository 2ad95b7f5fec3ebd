/**
 * Attack (or accident): an upstream error carries the provider's internals (hosts, keys in URLs). The
 * gateway must log it without secrets and answer with its own words and the request id, for JSON calls
 * and streams alike.
 */
import { Writable } from "node:stream";
import OpenAI from "openai";
import t, { type Test } from "tap";
import { FAIL, PROVIDER_SECRET, STREAM_ERROR } from "../../services/devkit/openai-upstream.ts";
import { createLogger } from "../../services/shared/logger.ts";
import { ask, gatewayUnderAttack } from "./gateway-target.ts";

const lines: string[] = [];
const logger = createLogger(
  "info",
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  }),
);
const { client } = await gatewayUnderAttack(t, { logger });

/** The failure the client saw, and the log lines of that call. */
function checkFailure(t: Test, error: unknown) {
  t.ok(error instanceof OpenAI.APIError, "an OpenAI error");
  const { message, code } = error as InstanceType<typeof OpenAI.APIError>;
  t.equal(code, "UPSTREAM_ERROR");
  t.notOk(message.includes(PROVIDER_SECRET), "no key of the provider's");
  t.notOk(message.includes("provider.internal"), "no provider host");
  const requestId = /req_[0-9a-f]{32}/.exec(message)?.[0];
  t.ok(requestId, `the request id is in the message: ${message}`);
  const logged = lines.filter((l) => l.includes(requestId as string)).join("\n");
  t.ok(logged.includes("provider.internal"), "the log keeps what the upstream said");
  t.notOk(logged.includes(PROVIDER_SECRET), "without its secrets");
}

t.test("a JSON call the upstream fails", async (t) => {
  const error = await client.chat.completions
    .create({ model: "m", messages: ask(FAIL), max_tokens: 5 })
    .catch((e: unknown) => e);
  checkFailure(t, error);
});

t.test("a stream the upstream fails with an error event", async (t) => {
  const stream = await client.chat.completions.create({
    model: "m",
    messages: ask(STREAM_ERROR),
    max_tokens: 50,
    stream: true,
  });
  const error = await (async () => {
    for await (const _ of stream);
  })().catch((e: unknown) => e);
  checkFailure(t, error);
});
