import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Received {
  id: string;
  type: string;
  timestamp: string;
  // biome-ignore lint/suspicious/noExplicitAny: each event type has its own data; tests read the fields they expect
  data: Record<string, any>;
}

/** How the receiver answers: accept, fail with HTTP 500, or never answer (the sender's timeout fires). */
export type Mode = "accept" | "fail" | "hang";

/**
 * A webhook receiver as a customer would write one: it verifies every request with the standardwebhooks
 * verifier against the secrets it was given (a bad signature is answered 401 and counted), and
 * de-duplicates by event id (the sender delivers at least once).
 */
export interface Receiver {
  url: string;
  /** Unique events accepted, in arrival order. */
  events: Received[];
  /** Requests that carried an event id already accepted (re-deliveries). */
  duplicates: number;
  /** Requests whose signature did not verify. */
  rejected: number;
  /** Requests seen in any mode. */
  requests: number;
  mode: Mode;
  secrets: string[];
  /** Closes the socket (a receiver that is down: connections are refused). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(options: { path?: string } = {}): Promise<Receiver> {
  const hanging = new Set<ServerResponse>();
  const seen = new Set<string>();
  const receiver: Receiver = {
    url: "",
    events: [],
    duplicates: 0,
    rejected: 0,
    requests: 0,
    mode: "accept",
    secrets: [],
    stop: async () => {},
    restart: async () => {},
    close: async () => {},
  };
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    receiver.requests++;
    if (receiver.mode === "hang") {
      hanging.add(response);
      return;
    }
    if (receiver.mode === "fail") {
      response.writeHead(500).end();
      return;
    }
    const body = Buffer.concat(chunks).toString("utf8");
    let payload: Received | undefined;
    for (const secret of receiver.secrets) {
      try {
        payload = new Webhook(secret).verify(body, request.headers as Record<string, string>) as Received;
        break;
      } catch {
        // try the next secret
      }
    }
    if (!payload || payload.id !== request.headers["webhook-id"]) {
      receiver.rejected++;
      response.writeHead(401).end();
      return;
    }
    if (seen.has(payload.id)) receiver.duplicates++;
    else {
      seen.add(payload.id);
      receiver.events.push(payload);
    }
    response.writeHead(204).end();
  };
  let server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  receiver.url = `http://127.0.0.1:${port}${options.path ?? "/hooks"}`;
  const stop = async () => {
    for (const r of hanging) r.destroy();
    hanging.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  receiver.stop = stop;
  receiver.close = async () => {
    if (server.listening) await stop();
  };
  receiver.restart = async () => {
    server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  };
  return receiver;
}
