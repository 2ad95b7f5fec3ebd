/**
 * Slow clients cannot hold the service: headers or a body trickled byte by byte are cut off after the
 * configured timeouts, and connections beyond HTTP_MAX_CONNECTIONS are dropped, while a normal client is
 * still served. Raw sockets, since no HTTP client sends this slowly on purpose.
 */
import { connect, type Socket } from "node:net";
import t from "tap";
import { until } from "../../services/devkit/until.ts";
import { buildServer } from "../../services/server.ts";
import { build } from "../helpers/app.ts";

const service = await build(t, {
  env: {
    HTTP_HEADERS_TIMEOUT_MS: "500",
    HTTP_REQUEST_TIMEOUT_MS: "1000",
  },
});
const { port } = new URL(service.urls.http);

/** A raw TCP connection that records when the server closed it. */
async function rawSocket(to = Number(port)): Promise<{ socket: Socket; closed: () => boolean; data: () => string }> {
  const socket = connect(to, "127.0.0.1");
  let closed = false;
  let received = "";
  socket.on("close", () => {
    closed = true;
  });
  socket.on("data", (chunk) => {
    received += chunk.toString();
  });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, closed: () => closed, data: () => received };
}

/** Writes `text` one byte every `everyMs` until the socket closes: the attack itself, not a wait. */
function trickle(socket: Socket, text: string, everyMs = 50): () => void {
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || sent >= text.length) return;
    socket.write(text[sent++] as string);
  }, everyMs);
  return () => clearInterval(timer);
}

const served = async () => (await fetch(`${service.urls.http}/healthz`)).status;

t.test("headers trickled byte by byte are cut off after HTTP_HEADERS_TIMEOUT_MS", async (t) => {
  const slow = await Promise.all(Array.from({ length: 5 }, () => rawSocket()));
  const stops = slow.map(({ socket }) =>
    trickle(socket, `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n${"X-Pad: a\r\n".repeat(500)}\r\n`),
  );
  t.teardown(() => {
    for (const stop of stops) stop();
    for (const { socket } of slow) socket.destroy();
  });
  t.equal(await served(), 200, "a normal client is served meanwhile");
  await until(async () => (slow.every((s) => s.closed()) ? true : undefined), "the slow clients to be cut off", {
    timeoutMs: 8000,
  });
  t.match(slow[0]?.data(), /^HTTP\/1\.1 408/, "answered 408 Request Timeout");
});

t.test("a body trickled byte by byte is cut off after HTTP_REQUEST_TIMEOUT_MS", async (t) => {
  const slow = await rawSocket();
  slow.socket.write(
    "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n",
  );
  const stop = trickle(slow.socket, "x".repeat(4000));
  t.teardown(() => {
    stop();
    slow.socket.destroy();
  });
  await until(async () => (slow.closed() ? true : undefined), "the slow body to be cut off", { timeoutMs: 8000 });
  t.equal(await served(), 200);
});

t.test("connections beyond HTTP_MAX_CONNECTIONS are dropped, and served again once others close", async (t) => {
  // The same service built with room for three connections and patient header timeouts, so that only
  // the cap closes anything here.
  const config = { ...service.deps.config, HTTP_MAX_CONNECTIONS: 3, HTTP_HEADERS_TIMEOUT_MS: 30_000 };
  const capped = await buildServer({ ...service.deps, config });
  t.teardown(() => capped.close());
  await capped.listen({ host: "127.0.0.1", port: 0 });
  const cappedPort = (capped.server.address() as { port: number }).port;

  const held = await Promise.all(Array.from({ length: 3 }, () => rawSocket(cappedPort)));
  t.teardown(() => {
    for (const { socket } of held) socket.destroy();
  });
  const extra = await rawSocket(cappedPort);
  extra.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  await until(async () => (extra.closed() ? true : undefined), "the fourth connection to be dropped", {
    timeoutMs: 5000,
  });
  t.equal(extra.data(), "", "dropped without an answer");
  const metrics = await service.deps.metrics.registry.metrics();
  t.match(metrics, /^commons_http_connections_dropped_total [1-9]/m, "and counted in /metrics");

  for (const { socket } of held) socket.destroy();
  const answer = await until(async () => {
    const client = await rawSocket(cappedPort);
    client.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    await until(async () => (client.closed() ? true : undefined), "the answer");
    return client.data().startsWith("HTTP/1.1 200") ? client.data() : undefined;
  }, "the service to accept connections again");
  t.match(answer, /"status":"ok"/);
});
