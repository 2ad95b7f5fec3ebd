import type { IncomingHttpHeaders } from "node:http";
import { type ZodIssue, z } from "zod";
import { AppError } from "../shared/errors.ts";
import type { JsonObject } from "./upstream.ts";

export const PURPOSE_HEADER = "x-commons-purpose";

/** contracts/policy/ModelIds.sol MODEL_ID_MAX_BYTES: no policy can exist for a longer model id. */
export const MODEL_ID_MAX_BYTES = 128;

/** OpenAI's limits (chat reference): at most 128 completions, 16 metadata pairs, 4 stop sequences. */
const MAX_CHOICES = 128;

export function bad(message: string): never {
  throw new AppError("BAD_USER_INPUT", message);
}

/**
 * Fields of OpenAI's chat completions reference that the gateway refuses, and why: what they cost is not
 * counted in tokens, or not bounded by anything in the request (docs/security.md).
 */
const REFUSED_CHAT_FIELDS: Record<string, string> = {
  audio: "audio output is billed per second of speech, which no token bound of the request limits",
  web_search_options:
    "web search is billed per search and adds its results to the prompt; neither is bounded by the request",
  moderation: "it runs a second model, which governance has not approved for this call",
};

export const text = z.string();
export const breakpoint = z.object({ mode: z.literal("explicit"), ttl: z.enum(["30m", "12h"]).optional() }).strict();
const textPart = z.object({ type: z.literal("text"), text, prompt_cache_breakpoint: breakpoint.optional() }).strict();
const refusalPart = z.object({ type: z.literal("refusal"), refusal: text }).strict();
const imagePart = z
  .object({
    type: z.literal("image_url"),
    image_url: z.object({ url: text, detail: z.enum(["auto", "low", "high"]).optional() }).strict(),
    prompt_cache_breakpoint: breakpoint.optional(),
  })
  .strict();
const audioPart = z
  .object({
    type: z.literal("input_audio"),
    input_audio: z.object({ data: text, format: z.enum(["wav", "mp3"]) }).strict(),
    prompt_cache_breakpoint: breakpoint.optional(),
  })
  .strict();
/** Refused: a file (a PDF) is read by the upstream page by page, as text and images of unknown count. */
const filePart = z
  .object({
    type: z.literal("file"),
    file: z.unknown().refine(() => false, {
      message:
        "file parts are not accepted: the upstream bills a file's pages, which cannot be bounded before it reads them",
    }),
  })
  .passthrough();
const textContent = z.union([text, z.array(textPart)]);
const userContent = z.union([text, z.array(z.discriminatedUnion("type", [textPart, imagePart, audioPart, filePart]))]);
const name = z.string().max(256).optional();

const functionCall = z.object({ name: text, arguments: text }).strict();
const toolCall = z.discriminatedUnion("type", [
  z.object({ id: text, type: z.literal("function"), function: functionCall }).strict(),
  z.object({ id: text, type: z.literal("custom"), custom: z.object({ name: text, input: text }).strict() }).strict(),
]);
export const json = z.record(z.unknown());

const message = z.discriminatedUnion("role", [
  z.object({ role: z.literal("system"), content: textContent, name }).strict(),
  z.object({ role: z.literal("developer"), content: textContent, name }).strict(),
  z.object({ role: z.literal("user"), content: userContent, name }).strict(),
  z
    .object({
      role: z.literal("assistant"),
      content: z.union([text, z.array(z.discriminatedUnion("type", [textPart, refusalPart]))]).nullish(),
      refusal: text.nullish(),
      name,
      tool_calls: z.array(toolCall).optional(),
      function_call: functionCall.nullish(),
      audio: z
        .null({
          errorMap: () => ({
            message: "a previous audio answer is not accepted: its audio tokens cannot be counted before the call",
          }),
        })
        .optional(),
    })
    .strict(),
  z.object({ role: z.literal("tool"), content: textContent, tool_call_id: text }).strict(),
  z.object({ role: z.literal("function"), content: text.nullable(), name: text }).strict(),
]);

const functionDefinition = z
  .object({ name: text, description: text.optional(), parameters: json.optional(), strict: z.boolean().nullish() })
  .strict();
const tool = z.discriminatedUnion("type", [
  z.object({ type: z.literal("function"), function: functionDefinition }).strict(),
  z
    .object({
      type: z.literal("custom"),
      custom: z.object({ name: text, description: text.optional(), format: json.optional() }).strict(),
    })
    .strict(),
]);
const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), function: z.object({ name: text }).strict() }).strict(),
  z.object({ type: z.literal("custom"), custom: z.object({ name: text }).strict() }).strict(),
  z
    .object({
      type: z.literal("allowed_tools"),
      allowed_tools: z.object({ mode: z.enum(["auto", "required"]), tools: z.array(json) }).strict(),
    })
    .strict(),
]);
const responseFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }).strict(),
  z.object({ type: z.literal("json_object") }).strict(),
  z
    .object({
      type: z.literal("json_schema"),
      json_schema: z
        .object({ name: text, description: text.optional(), schema: json.optional(), strict: z.boolean().nullish() })
        .strict(),
    })
    .strict(),
]);
export const positiveInteger = z.number().int().positive();
export const between = (min: number, max: number) => z.number().min(min).max(max).nullish();

/** Budgets count tokens at one price: tiers billed at another are refused (chat and Responses). */
export const serviceTier = z
  .enum(["auto", "default", "flex"], {
    errorMap: () => ({
      message: "only the auto, default and flex tiers are accepted: budgets count tokens at one price",
    }),
  })
  .nullish();
export const reasoningEffort = z.enum(["none", "minimal", "low", "medium", "high", "xhigh", "max"]).nullish();
export const metadata = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, "at most 16 metadata pairs")
  .nullish();
/**
 * Every field of OpenAI's chat completions reference the gateway forwards (besides REFUSED_CHAT_FIELDS);
 * anything else is refused rather than forwarded blind. Each field's cost is counted in tokens.ts.
 */
const chatShape = {
  model: text,
  messages: z.array(message).min(1),
  max_tokens: positiveInteger.nullish(),
  max_completion_tokens: positiveInteger.nullish(),
  n: z.number().int().min(1).max(MAX_CHOICES).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z
    .object({ include_usage: z.boolean().nullish(), include_obfuscation: z.boolean() })
    .partial()
    .strict()
    .nullish(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  functions: z.array(functionDefinition).optional(),
  function_call: z.union([z.enum(["none", "auto"]), z.object({ name: text }).strict()]).optional(),
  response_format: responseFormat.optional(),
  prediction: z
    .object({ type: z.literal("content"), content: textContent })
    .strict()
    .nullish(),
  modalities: z
    .array(
      z.literal("text", {
        errorMap: () => ({ message: "only text output is accepted (audio output is billed per second)" }),
      }),
    )
    .nullish(),
  service_tier: serviceTier,
  metadata,
  temperature: between(0, 2),
  top_p: between(0, 1),
  frequency_penalty: between(-2, 2),
  presence_penalty: between(-2, 2),
  logit_bias: z.record(z.number().min(-100).max(100)).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([text, z.array(text).max(4)]).nullish(),
  store: z.boolean().nullish(),
  user: z.string().max(256).optional(),
  safety_identifier: z.string().max(256).optional(),
  prompt_cache_key: z.string().max(256).nullish(),
  prompt_cache_retention: z.enum(["in_memory", "24h"]).nullish(),
  prompt_cache_options: z
    .object({ mode: z.enum(["implicit", "explicit"]), ttl: z.literal("30m") })
    .partial()
    .strict()
    .optional(),
  reasoning_effort: reasoningEffort,
  verbosity: z.enum(["low", "medium", "high"]).nullish(),
};
const chatSchema = z.object(chatShape).strict();
export type ChatRequest = z.infer<typeof chatSchema>;
export type ChatMessage = ChatRequest["messages"][number];

const embeddingsSchema = z
  .object({
    model: text,
    input: z.union([
      text,
      z.array(text).min(1).max(2048),
      z.array(z.number().int().nonnegative()).min(1),
      z.array(z.array(z.number().int().nonnegative()).min(1)).min(1).max(2048),
    ]),
    dimensions: positiveInteger.optional(),
    encoding_format: z.enum(["float", "base64"]).optional(),
    user: z.string().max(256).optional(),
    /** Only for `metadata.purpose` (OpenAI's embeddings have no metadata): never forwarded. */
    metadata,
  })
  .strict();
export type EmbeddingsRequest = z.infer<typeof embeddingsSchema>;

/** Says which field was wrong and why, the first wrong one. */
function describe(issue: ZodIssue): string {
  // A value none of a union's shapes took: the shape that got furthest into it says what was wrong.
  if (issue.code === z.ZodIssueCode.invalid_union) {
    const deepest = issue.unionErrors
      .map((e) => e.issues[0] as ZodIssue)
      .reduce((a, b) => (b.path.length > a.path.length ? b : a));
    if (deepest.path.length > issue.path.length) return describe(deepest);
  }
  const path = issue.path.join(".");
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    const field = [path, issue.keys[0]].filter((p) => p !== "").join(".");
    return `unknown field ${field}: the gateway forwards only the fields whose cost it can bound`;
  }
  return `${path || "the request body"}: ${issue.message}`;
}

export function object(body: unknown): JsonObject {
  if (body === null || typeof body !== "object" || Array.isArray(body)) bad("the request body must be a JSON object");
  return body as JsonObject;
}

/** The model id, checked first: a caller-chosen string longer than any policy's id goes no further. */
export function modelOf(body: JsonObject): string {
  const model = body.model;
  if (typeof model !== "string" || model === "") bad("model must be a non-empty string");
  if (Buffer.byteLength(model) > MODEL_ID_MAX_BYTES) bad(`model must be at most ${MODEL_ID_MAX_BYTES} bytes long`);
  return model;
}

export function parse<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, body: JsonObject): T {
  const result = schema.safeParse(body);
  if (!result.success) bad(describe(result.error.issues[0] as ZodIssue));
  return result.data;
}

export interface ChatBody {
  /** The request as validated: only fields the gateway knows. */
  request: ChatRequest;
  model: string;
  /**
   * The completion bound asked for: the larger of max_completion_tokens and max_tokens when both are
   * given, so that each is held to the policy's limit; the upstream then gets it in both.
   */
  maxTokens: number | null;
  /** The field(s) the client named the bound in; the admitted bound is forwarded in each. */
  maxTokensFields: ("max_tokens" | "max_completion_tokens")[];
  choices: number;
  stream: boolean;
}

export function parseChatBody(body: unknown): ChatBody {
  const raw = object(body);
  const model = modelOf(raw);
  for (const field of Object.keys(raw)) {
    const why = REFUSED_CHAT_FIELDS[field];
    if (why !== undefined) bad(`${field} is not accepted: ${why}`);
  }
  const request = parse(chatSchema, raw);
  const bounds = (["max_completion_tokens", "max_tokens"] as const).filter((f) => typeof request[f] === "number");
  const asked = bounds.map((f) => request[f] as number);
  return {
    request,
    model,
    maxTokens: asked.length === 0 ? null : Math.max(...asked),
    // A request naming neither still runs with a bound, in the field every compatible upstream knows.
    maxTokensFields: bounds.length === 0 ? ["max_tokens"] : bounds,
    choices: request.n ?? 1,
    stream: request.stream === true,
  };
}

export function parseEmbeddingsBody(body: unknown): {
  request: EmbeddingsRequest;
  model: string;
  /** The request as the upstream gets it. */
  forward: JsonObject;
} {
  const raw = object(body);
  const model = modelOf(raw);
  const request = parse(embeddingsSchema, raw);
  const { metadata: _metadata, ...forward } = request;
  return { request, model, forward };
}

/** Metadata as the upstream gets it: without the purpose (ours, not the upstream's business), if any is left. */
export function forwardedMetadata(metadata: Record<string, string> | null | undefined) {
  const { purpose: _purpose, ...rest } = metadata ?? {};
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/**
 * A client declares its purpose with the `X-Commons-Purpose` header or, for clients that cannot set
 * headers, OpenAI's `metadata.purpose` field; the header wins. Compared case-insensitively.
 */
export function declaredPurpose(
  headers: IncomingHttpHeaders,
  body: { metadata?: Record<string, string> | null },
): string | null {
  const header = headers[PURPOSE_HEADER];
  const fromBody = body.metadata?.purpose;
  const value = typeof header === "string" ? header : typeof fromBody === "string" ? fromBody : "";
  const purpose = value.trim().toLowerCase();
  return purpose === "" ? null : purpose;
}
