import { once } from "node:events";
import WebSocket from "ws";

export interface Message {
  type: string;
  id?: string;
  // biome-ignore lint/suspicious/noExplicitAny: payloads are whatever the server sends; tests match on them
  payload?: any;
}

export interface WsClient {
  socket: WebSocket;
  /** Starts a subscription; `query` is a string, or a document sent pre-parsed (as JSON). */
  subscribe(id: string, query: unknown, variables?: Record<string, unknown>): void;
  complete(id: string): void;
  /** The next message; fails after 10 s rather than hang a test on a message that never comes. */
  next(): Promise<Message>;
  close(): void;
}

/**
 * A graphql-transport-ws client (the protocol mercurius speaks on /graphql), reading messages in order;
 * undefined when the server refuses the websocket upgrade.
 */
export async function tryConnect(url: string): Promise<WsClient | undefined> {
  const socket = new WebSocket(url, "graphql-transport-ws");
  const inbox: Message[] = [];
  const waiting: ((m: Message) => void)[] = [];
  socket.on("message", (data) => {
    const message = JSON.parse(String(data)) as Message;
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else inbox.push(message);
  });
  const [event] = await Promise.race([once(socket, "open").then(() => ["open"]), once(socket, "unexpected-response")]);
  if (event !== "open") {
    socket.on("error", () => {}); // terminating a refused handshake reports it as an error
    socket.terminate();
    return undefined;
  }
  const next = () =>
    new Promise<Message>((resolve, reject) => {
      const queued = inbox.shift();
      if (queued) return resolve(queued);
      const timer = setTimeout(() => reject(new Error("no message from the server within 10 s")), 10_000);
      waiting.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  socket.send(JSON.stringify({ type: "connection_init" }));
  const ack = await next();
  if (ack.type !== "connection_ack") throw new Error(`expected connection_ack, got ${JSON.stringify(ack)}`);
  return {
    socket,
    subscribe(id, query, variables) {
      socket.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables } }));
    },
    complete(id) {
      socket.send(JSON.stringify({ id, type: "complete" }));
    },
    next,
    close: () => socket.close(),
  };
}

export async function connect(url: string): Promise<WsClient> {
  const client = await tryConnect(url);
  if (!client) throw new Error("the websocket upgrade was refused");
  return client;
}
