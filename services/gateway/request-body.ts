import type { IncomingHttpHeaders } from "node:http";
import { AppError } from "../shared/errors.ts";
import type { JsonObject } from "./upstream.ts";

export const PURPOSE_HEADER = "x-commons-purpose";

function bad(message: string): never {
  throw new AppError("BAD_USER_INPUT", message);
}

function object(body: unknown): JsonObject {
  if (body === null || typeof body !== "object" || Array.isArray(body)) bad("the request body must be a JSON object");
  return body as JsonObject;
}

function modelOf(body: JsonObject): string {
  if (typeof body.model !== "string" || body.model === "") bad("model must be a non-empty string");
  return body.model;
}

function positiveInteger(body: JsonObject, field: string): number | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) bad(`${field} must be a positive integer`);
  return value;
}

export interface ChatBody {
  raw: JsonObject;
  model: string;
  messages: { role?: unknown; content?: unknown; name?: unknown }[];
  /** max_completion_tokens (the current name) or max_tokens, whichever was given. */
  maxTokens: number | null;
  maxTokensField: "max_tokens" | "max_completion_tokens";
  stream: boolean;
}

export function parseChatBody(body: unknown): ChatBody {
  const raw = object(body);
  const model = modelOf(raw);
  if (!Array.isArray(raw.messages) || raw.messages.length === 0) bad("messages must be a non-empty array");
  if (!raw.messages.every((m) => m !== null && typeof m === "object")) bad("every message must be an object");
  if (raw.stream !== undefined && raw.stream !== null && typeof raw.stream !== "boolean")
    bad("stream must be a boolean");
  const completion = positiveInteger(raw, "max_completion_tokens");
  return {
    raw,
    model,
    messages: raw.messages as ChatBody["messages"],
    maxTokens: completion ?? positiveInteger(raw, "max_tokens"),
    maxTokensField: completion !== null ? "max_completion_tokens" : "max_tokens",
    stream: raw.stream === true,
  };
}

export function parseEmbeddingsBody(body: unknown): { raw: JsonObject; model: string; input: unknown } {
  const raw = object(body);
  return { raw, model: modelOf(raw), input: raw.input };
}

/**
 * A client declares its purpose with the `X-Commons-Purpose` header or, for clients that cannot set
 * headers, OpenAI's `metadata.purpose` field; the header wins. Compared case-insensitively.
 */
export function declaredPurpose(headers: IncomingHttpHeaders, body: JsonObject): string | null {
  const header = headers[PURPOSE_HEADER];
  const metadata = body.metadata as { purpose?: unknown } | null | undefined;
  const value = typeof header === "string" ? header : typeof metadata?.purpose === "string" ? metadata.purpose : "";
  const purpose = value.trim().toLowerCase();
  return purpose === "" ? null : purpose;
}
