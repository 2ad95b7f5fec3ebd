import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Fault = "429" | "500" | "delay" | "drop" | "malformed";

export interface RpcProxyOptions {
  /** Answers one JSON-RPC call (the real node: e.g. the in-process EVM's provider.send). */
  send: (method: string, params: unknown[]) => Promise<unknown>;
  /** Share of HTTP requests that get a fault instead of (or before, for "delay") their answer. */
  faultRate?: number;
  faults?: Fault[];
  /** eth_getLogs spans wider than this are refused the way public nodes refuse them. */
  maxLogRange?: number;
  /** Deterministic fault choice in tests (defaults to Math.random). */
  random?: () => number;
}

export interface RpcProxy {
  url: string;
  /** How many requests got each fault so far. */
  injected: Record<Fault | "rangeRefused", number>;
  setFaultRate(rate: number): void;
  close(): Promise<void>;
}

interface RpcRequest {
  jsonrpc: "2.0";
  id: number | string | null;
  method: string;
  params?: unknown[];
}

/**
 * A local HTTP JSON-RPC endpoint in front of a real node that misbehaves on purpose: rate limits
 * (429), server errors (500), slow answers, dropped connections and malformed JSON, plus the
 * "range too large" refusal of eth_getLogs. Faults are injected per HTTP request, batches included.
 */
export async function createRpcProxy(options: RpcProxyOptions): Promise<RpcProxy> {
  const random = options.random ?? Math.random;
  const faults = options.faults ?? ["429", "500", "delay", "drop", "malformed"];
  let faultRate = options.faultRate ?? 0;
  // Which requests fail is random; which fault comes next rotates, so a short run still meets each kind.
  let nextFault = 0;
  const injected: RpcProxy["injected"] = { "429": 0, "500": 0, delay: 0, drop: 0, malformed: 0, rangeRefused: 0 };

  const answer = async (request: RpcRequest) => {
    const params = request.params ?? [];
    if (request.method === "eth_getLogs" && options.maxLogRange !== undefined) {
      const filter = params[0] as { fromBlock?: string; toBlock?: string };
      const span = Number(filter.toBlock ?? 0) - Number(filter.fromBlock ?? 0) + 1;
      if (span > options.maxLogRange) {
        injected.rangeRefused++;
        return {
          jsonrpc: "2.0",
          id: request.id,
          error: { code: -32005, message: `query exceeds max block range ${options.maxLogRange}` },
        };
      }
    }
    try {
      return { jsonrpc: "2.0", id: request.id, result: await options.send(request.method, params) };
    } catch (error) {
      const e = error as { code?: number; message?: string; data?: unknown };
      return {
        jsonrpc: "2.0",
        id: request.id,
        error: {
          code: typeof e.code === "number" ? e.code : -32603,
          message: e.message ?? String(error),
          data: e.data,
        },
      };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (random() < faultRate) {
      const fault = faults[nextFault++ % faults.length] as Fault;
      injected[fault]++;
      switch (fault) {
        case "429":
          res.writeHead(429, { "content-type": "text/plain", "retry-after": "0" }).end("Too Many Requests");
          return;
        case "500":
          res.writeHead(500, { "content-type": "text/plain" }).end("Internal Server Error");
          return;
        case "drop":
          req.socket.destroy();
          return;
        case "malformed":
          res.writeHead(200, { "content-type": "application/json" }).end('{"jsonrpc":"2.0","id":1,"result":');
          return;
        case "delay":
          await new Promise((resolve) => setTimeout(resolve, 20 + random() * 200));
          break;
      }
    }
    let body: RpcRequest | RpcRequest[];
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const result = Array.isArray(body) ? await Promise.all(body.map(answer)) : await answer(body);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result, bigintReplacer));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    injected,
    setFaultRate(rate) {
      faultRate = rate;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function bigintReplacer(_key: string, value: unknown) {
  return typeof value === "bigint" ? `0x${value.toString(16)}` : value;
}

/** A small seeded PRNG (mulberry32), so that a test's faults are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}
