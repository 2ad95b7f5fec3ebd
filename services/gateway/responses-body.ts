import { z } from "zod";
import {
  bad,
  between,
  breakpoint,
  json,
  metadata,
  modelOf,
  object,
  parse,
  positiveInteger,
  reasoningEffort,
  serviceTier,
  text,
} from "./request-body.ts";

/**
 * Fields of OpenAI's Responses API that the gateway refuses when they are used (a null or false value is
 * not a use), and why: what the upstream bills for them cannot be bounded before the call
 * (docs/security.md, The Responses API).
 */
const REFUSED_RESPONSES_FIELDS: Record<string, string> = {
  previous_response_id:
    "the upstream bills every token of the stored conversation it names, which the gateway cannot see; send the conversation's items in input instead",
  conversation:
    "the upstream bills every item of the stored conversation, which the gateway cannot see; send its items in input instead",
  prompt:
    "a stored prompt template is read by the upstream, so its tokens and content cannot be checked before the call",
  background:
    "a background response is produced after the call returns, so its usage would never be charged to the call",
  background_options: "background responses are refused",
  context_management:
    "server-side compaction runs the model again on the conversation, which no bound of the request limits",
  moderation: "it runs a second model, which governance has not approved for this call",
  image: "image generation is billed per image, which no token bound of the request limits",
  access_programs: "their cost is not counted in tokens",
};

/** Refused: a file (a PDF) is read by the upstream page by page, as text and images of unknown count. */
const inputFile = z.object({ type: z.literal("input_file") }).passthrough();
function noFiles(part: { type: string }, ctx: z.RefinementCtx) {
  if (part.type === "input_file")
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message:
        "input_file parts are not accepted: the upstream bills a file's pages, which cannot be bounded before it reads them",
    });
}
const inputText = z
  .object({ type: z.literal("input_text"), text, prompt_cache_breakpoint: breakpoint.nullish() })
  .strict();
const inputImage = z
  .object({
    type: z.literal("input_image"),
    image_url: text.nullish(),
    file_id: text.nullish(),
    detail: z.enum(["auto", "low", "high", "original"]).nullish(),
    prompt_cache_breakpoint: breakpoint.nullish(),
  })
  .strict();
const outputText = z
  .object({
    type: z.literal("output_text"),
    text,
    annotations: z.array(json).optional(),
    logprobs: z.array(json).optional(),
  })
  .strict();
const refusal = z.object({ type: z.literal("refusal"), refusal: text }).strict();
const inputParts = z.array(z.discriminatedUnion("type", [inputText, inputImage, inputFile]).superRefine(noFiles));
const status = z.enum(["in_progress", "completed", "incomplete"]).nullish();

const itemTypes = "message, function_call, function_call_output, custom_tool_call, custom_tool_call_output, reasoning";
const item = z.discriminatedUnion(
  "type",
  [
    z
      .object({
        type: z.literal("message"),
        role: z.enum(["user", "assistant", "system", "developer"]),
        content: z.union([
          text,
          z.array(
            z.discriminatedUnion("type", [inputText, inputImage, inputFile, outputText, refusal]).superRefine(noFiles),
          ),
        ]),
        id: text.nullish(),
        status,
        phase: z.enum(["commentary", "final_answer"]).nullish(),
      })
      .strict(),
    z
      .object({
        type: z.literal("function_call"),
        call_id: text,
        name: text,
        arguments: text,
        namespace: text.optional(),
        id: text.nullish(),
        status,
      })
      .strict(),
    z
      .object({
        type: z.literal("function_call_output"),
        call_id: text,
        output: z.union([text, inputParts]),
        id: text.nullish(),
        status,
      })
      .strict(),
    z
      .object({
        type: z.literal("custom_tool_call"),
        call_id: text,
        name: text,
        input: text,
        namespace: text.optional(),
        id: text.nullish(),
      })
      .strict(),
    z
      .object({
        type: z.literal("custom_tool_call_output"),
        call_id: text,
        output: z.union([text, inputParts]),
        id: text.nullish(),
      })
      .strict(),
    z
      .object({
        type: z.literal("reasoning"),
        id: text,
        summary: z.array(z.object({ type: z.literal("summary_text"), text }).strict()),
        content: z.array(z.object({ type: z.literal("reasoning_text"), text }).strict()).nullish(),
        encrypted_content: z
          .null({
            errorMap: () => ({
              message: "encrypted reasoning is not accepted: its tokens cannot be counted before the call",
            }),
          })
          .optional(),
        status,
      })
      .strict(),
  ],
  {
    errorMap: (issue, ctx) => ({
      message:
        issue.code === z.ZodIssueCode.invalid_union_discriminator
          ? `only ${itemTypes} items are accepted: an item_reference or a built-in tool's item carries content the gateway cannot count`
          : ctx.defaultError,
    }),
  },
);
/** An input item without a type is a message (OpenAI's EasyInputMessage). */
const inputItem = z.preprocess(
  (value) =>
    value !== null && typeof value === "object" && !Array.isArray(value) && !("type" in value)
      ? { type: "message", ...value }
      : value,
  item,
);

const tool = z.discriminatedUnion(
  "type",
  [
    z
      .object({
        type: z.literal("function"),
        name: text,
        description: text.nullish(),
        parameters: json.nullish(),
        strict: z.boolean().nullish(),
      })
      .strict(),
    z.object({ type: z.literal("custom"), name: text, description: text.nullish(), format: json.nullish() }).strict(),
  ],
  {
    errorMap: (issue, ctx) => ({
      message:
        issue.code === z.ZodIssueCode.invalid_union_discriminator
          ? "only function and custom tools are accepted: built-in tools (web search, file search, code interpreter, MCP, image generation...) are billed per call or per result, which no token bound of the request limits"
          : ctx.defaultError,
    }),
  },
);
const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), name: text }).strict(),
  z.object({ type: z.literal("custom"), name: text }).strict(),
  z.object({ type: z.literal("allowed_tools"), mode: z.enum(["auto", "required"]), tools: z.array(json) }).strict(),
]);
const format = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }).strict(),
  z.object({ type: z.literal("json_object") }).strict(),
  z
    .object({
      type: z.literal("json_schema"),
      name: text,
      schema: json,
      description: text.nullish(),
      strict: z.boolean().nullish(),
    })
    .strict(),
]);

/**
 * Every field of OpenAI's Responses API the gateway forwards (besides REFUSED_RESPONSES_FIELDS); anything
 * else is refused rather than forwarded blind. Each field's cost is counted in tokens.ts.
 */
const responsesSchema = z
  .object({
    model: text,
    input: z.union([text, z.array(inputItem).min(1)]),
    instructions: text.nullish(),
    max_output_tokens: positiveInteger.nullish(),
    tools: z.array(tool).optional(),
    tool_choice: toolChoice.optional(),
    parallel_tool_calls: z.boolean().nullish(),
    text: z
      .object({ format: format.optional(), verbosity: z.enum(["low", "medium", "high"]).nullish() })
      .strict()
      .optional(),
    reasoning: z
      .object({
        effort: reasoningEffort,
        summary: z.enum(["auto", "concise", "detailed"]).nullish(),
        generate_summary: z.enum(["auto", "concise", "detailed"]).nullish(),
      })
      .strict()
      .nullish(),
    include: z
      .array(z.enum(["message.input_image.image_url", "reasoning.encrypted_content", "message.output_text.logprobs"]))
      .nullish(),
    truncation: z.enum(["auto", "disabled"]).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_obfuscation: z.boolean() }).partial().strict().nullish(),
    store: z.boolean().nullish(),
    metadata,
    service_tier: serviceTier,
    temperature: between(0, 2),
    top_p: between(0, 1),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    user: z.string().max(256).optional(),
    safety_identifier: z.string().max(256).nullish(),
    prompt_cache_key: z.string().max(256).nullish(),
    prompt_cache_retention: z.enum(["in_memory", "24h"]).nullish(),
  })
  .strict();
export type ResponsesRequest = z.infer<typeof responsesSchema>;
export type ResponsesItem = z.infer<typeof item>;

export interface ResponsesBody {
  request: ResponsesRequest;
  model: string;
  /** max_output_tokens as asked (it bounds reasoning and visible output together), or null. */
  maxTokens: number | null;
  stream: boolean;
}

export function parseResponsesBody(body: unknown): ResponsesBody {
  const raw = object(body);
  const model = modelOf(raw);
  for (const [field, value] of Object.entries(raw)) {
    const why = REFUSED_RESPONSES_FIELDS[field];
    if (why !== undefined && value !== null && value !== false) bad(`${field} is not accepted: ${why}`);
  }
  // Refused fields not in use (null, false) are dropped, not forwarded.
  const known = Object.fromEntries(Object.entries(raw).filter(([field]) => !(field in REFUSED_RESPONSES_FIELDS)));
  const request = parse(responsesSchema, known);
  return { request, model, maxTokens: request.max_output_tokens ?? null, stream: request.stream === true };
}
