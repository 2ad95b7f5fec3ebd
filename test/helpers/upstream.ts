import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { decode, encode } from "gpt-tokenizer";
import {
  chatInputText,
  embeddingInputs,
  estimateChatPromptTokens,
  estimateEmbeddingTokens,
} from "../../services/gateway/tokens.ts";

/**
 * Markers a test puts in a message to make this upstream misbehave on that one call:
 * `[fail]` answers 500, `[hang]` never answers, `[stall]` streams a few chunks and then goes silent.
 */
export const FAIL = "[fail]";
export const HANG = "[hang]";
export const STALL = "[stall]";
/** Chunks a `[stall]` stream sends before going silent. */
export const STALL_AFTER = 5;

const WORDS = encode(" the commons decides which models serve whom and for what purpose".repeat(64));

export interface TestUpstream {
  /** Base URL, as UPSTREAM_URL takes it (…/v1). */
  url: string;
  /** Every request body received, in order. */
  bodies: Record<string, unknown>[];
  /** Requests whose connection closed before the answer finished (the gateway hung up). */
  abandoned: number;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
}

/**
 * A real local HTTP server speaking OpenAI's wire format: chat completions (JSON and server-sent
 * events with a final usage chunk) and embeddings. A completion is exactly `max_tokens` tokens and its
 * usage is exact, so tests can predict every charge.
 */
export async function startTestUpstream(): Promise<TestUpstream> {
  const state = { bodies: [] as Record<string, unknown>[], abandoned: 0 };
  const hung = new Set<ServerResponse>();

  const server = createServer(async (req, res) => {
    res.on("close", () => {
      if (!res.writableFinished) state.abandoned++;
      hung.delete(res);
    });
    const body = await readJson(req);
    state.bodies.push(body);
    const messages = (body.messages ?? []) as { content?: unknown }[];
    const text = req.url?.endsWith("/embeddings") ? JSON.stringify(body.input) : chatInputText(messages);
    if (text.includes(FAIL)) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "the test upstream failed on request", type: "server_error" } }));
      return;
    }
    if (text.includes(HANG)) {
      hung.add(res);
      return;
    }
    if (req.url === "/v1/embeddings") {
      const inputs = embeddingInputs(body.input) ?? [];
      const tokens = estimateEmbeddingTokens(inputs);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          object: "list",
          model: body.model,
          data: inputs.map((_, index) => ({ object: "embedding", index, embedding: [0.1, 0.2, 0.3] })),
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        }),
      );
      return;
    }
    const n = Number(body.max_completion_tokens ?? body.max_tokens ?? 16);
    const tokens = WORDS.slice(0, n);
    const usage = {
      prompt_tokens: estimateChatPromptTokens(messages),
      completion_tokens: tokens.length,
      total_tokens: estimateChatPromptTokens(messages) + tokens.length,
    };
    const base = {
      id: "chatcmpl-test",
      created: 1_700_000_000,
      model: body.model,
      system_fingerprint: "test-upstream",
    };
    if (body.stream !== true) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          ...base,
          object: "chat.completion",
          choices: [{ index: 0, message: { role: "assistant", content: decode(tokens) }, finish_reason: "length" }],
          usage,
        }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    const send = (choices: unknown[], chunkUsage: unknown = null) =>
      res.write(
        `data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices, usage: chunkUsage })}\n\n`,
      );
    const stall = text.includes(STALL);
    for (let i = 0; i < tokens.length; i++) {
      if (stall && i === STALL_AFTER) {
        hung.add(res);
        return;
      }
      send([{ index: 0, delta: { content: decode([tokens[i] as number]) }, finish_reason: null }]);
      // Yield between chunks so that the stream really arrives in pieces.
      await new Promise((resolve) => setImmediate(resolve));
    }
    send([{ index: 0, delta: {}, finish_reason: "length" }]);
    const options = body.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage) send([], usage);
    res.end("data: [DONE]\n\n");
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get bodies() {
      return state.bodies;
    },
    get abandoned() {
      return state.abandoned;
    },
    async close() {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
