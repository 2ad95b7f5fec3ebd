import { countTokens, decode, encode } from "gpt-tokenizer";
import { decode as decodeCl100k } from "gpt-tokenizer/encoding/cl100k_base";
import type { ChatMessage, ChatRequest, EmbeddingsRequest } from "./request-body.ts";
import type { ResponsesItem, ResponsesRequest } from "./responses-body.ts";

/** Special tokens in user text are counted as plain text, never refused by the tokenizer. */
const plainText = { disallowedSpecial: new Set<string>() };
/** Per-message framing tokens of the chat format, as OpenAI counts them. */
const PER_MESSAGE = 4;
const PER_REPLY = 3;
/** Framing around each tool definition, tool call or structured field beyond its JSON text. */
const PER_STRUCTURE = 8;
/**
 * One image, whatever its size or detail: above the worst case of OpenAI's tiled models (1,445: 85 +
 * 8 tiles of 170 at high detail) and of its patch models (1,536 patches × up to 2.46 = 3,779). Models
 * that bill images as many more tokens (gpt-4o-mini counts one image as up to 48k) are charged what they
 * report, beyond the reservation (docs/security.md).
 */
export const IMAGE_TOKENS = 4_000;
/**
 * Input audio: one token per 50 bytes, 20 tokens a second of the least dense encoding accepted (mp3 at
 * 8 kbit/s, 1,000 bytes a second), twice the 10 tokens a second OpenAI counts for input audio.
 */
export const AUDIO_BYTES_PER_TOKEN = 50;

export function countTextTokens(text: string): number {
  return text === "" ? 0 : countTokens(text, plainText);
}

/** The first `n` tokens of `text` (o200k_base), as text. */
export function firstTokens(text: string, n: number): string {
  return decode(encode(text, plainText).slice(0, n));
}

const jsonTokens = (value: unknown) => PER_STRUCTURE + countTextTokens(JSON.stringify(value));

type Content = ChatMessage["content"] | NonNullable<ChatRequest["prediction"]>["content"];

/** Each part of a message's content as the model reads it: its text, or what an image or audio costs. */
function contentTokens(content: Content): number {
  if (content === null || content === undefined) return 0;
  if (typeof content === "string") return countTextTokens(content);
  let total = 0;
  for (const part of content) {
    if (part.type === "text") total += countTextTokens(part.text);
    else if (part.type === "refusal") total += countTextTokens(part.refusal);
    else if (part.type === "image_url") total += IMAGE_TOKENS;
    else if (part.type === "input_audio")
      total += Math.ceil((part.input_audio.data.length * 3) / 4 / AUDIO_BYTES_PER_TOKEN);
  }
  return total;
}

function messageTokens(m: ChatMessage): number {
  let total = PER_MESSAGE + contentTokens(m.content);
  if ("name" in m && typeof m.name === "string") total += 1 + countTextTokens(m.name);
  if (m.role === "assistant") {
    total += countTextTokens(m.refusal ?? "");
    for (const call of m.tool_calls ?? []) total += jsonTokens(call);
    if (m.function_call) total += jsonTokens(m.function_call);
  }
  if (m.role === "tool") total += countTextTokens(m.tool_call_id);
  return total;
}

/**
 * What a chat request costs whatever its completions: every message with all its parts, names and
 * tool calls; tools and functions (their JSON: descriptions and parameter schemas); the tool choice; the
 * response format's schema; and the prediction, whose rejected tokens are billed as completion tokens,
 * once per completion. At least what an upstream bills for them (services/devkit/openai-upstream.ts bills so).
 */
export function estimateChatInputTokens(request: ChatRequest): number {
  let total = PER_REPLY;
  for (const m of request.messages) total += messageTokens(m);
  for (const tool of request.tools ?? []) total += jsonTokens(tool);
  for (const fn of request.functions ?? []) total += jsonTokens(fn);
  if (typeof request.tool_choice === "object") total += jsonTokens(request.tool_choice);
  if (typeof request.function_call === "object") total += jsonTokens(request.function_call);
  if (request.response_format && request.response_format.type !== "text") total += jsonTokens(request.response_format);
  if (request.prediction) total += contentTokens(request.prediction.content) * (request.n ?? 1);
  return total;
}

/** Every key and string inside `value`, in order. */
function strings(value: unknown, out: string[]): void {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, out);
  else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      out.push(key);
      strings(item, out);
    }
  }
}

/**
 * Every text a chat request carries, for the content rules: messages (all text and refusal parts, names,
 * tool calls), tools and functions, the tool choice, the response format, the prediction and metadata
 * values. Images, audio and tool call ids are not text the rules can read.
 */
export function chatInputText(request: ChatRequest): string {
  const out: string[] = [];
  for (const m of request.messages) {
    const { content } = m;
    if (typeof content === "string") out.push(content);
    else
      for (const part of content ?? []) {
        if (part.type === "text") out.push(part.text);
        else if (part.type === "refusal") out.push(part.refusal);
      }
    if ("name" in m && typeof m.name === "string") out.push(m.name);
    if (m.role === "assistant") {
      if (m.refusal) out.push(m.refusal);
      for (const call of m.tool_calls ?? [])
        if (call.type === "function") out.push(call.function.name, call.function.arguments);
        else out.push(call.custom.name, call.custom.input);
      if (m.function_call) out.push(m.function_call.name, m.function_call.arguments);
    }
  }
  strings([request.tools, request.functions, request.tool_choice, request.function_call], out);
  strings([request.response_format, request.prediction?.content], out);
  strings(Object.values(request.metadata ?? {}), out);
  return out.join("\n");
}

type ResponsesContent = Extract<ResponsesItem, { type: "message" }>["content"];
type ResponsesPart = Exclude<ResponsesContent, string>[number];

/** The text a Responses API content part carries (images and files carry none the rules can read). */
function partText(part: ResponsesPart): string {
  if (part.type === "input_text" || part.type === "output_text") return part.text;
  if (part.type === "refusal") return part.refusal;
  return "";
}

function responsesContentTokens(content: ResponsesContent): number {
  if (typeof content === "string") return countTextTokens(content);
  let total = 0;
  for (const part of content) {
    total += part.type === "input_image" ? IMAGE_TOKENS : countTextTokens(partText(part));
    if (part.type === "output_text" && part.annotations?.length) total += jsonTokens(part.annotations);
  }
  return total;
}

function itemTokens(item: ResponsesItem): number {
  switch (item.type) {
    case "message":
      return PER_MESSAGE + responsesContentTokens(item.content);
    case "function_call":
    case "custom_tool_call":
      return jsonTokens(item);
    case "function_call_output":
    case "custom_tool_call_output":
      return PER_MESSAGE + countTextTokens(item.call_id) + responsesContentTokens(item.output);
    case "reasoning":
      return (
        PER_STRUCTURE + countTextTokens([...item.summary, ...(item.content ?? [])].map((part) => part.text).join("\n"))
      );
  }
}

/**
 * What a Responses API request costs whatever its output: the instructions and every input item (messages
 * with all their parts, function and custom tool calls and their outputs, reasoning summaries), the tools
 * (their JSON: descriptions and schemas), the tool choice and the text format's schema. At least what an
 * upstream bills for them (services/devkit/openai-upstream.ts bills so). Stored conversations are refused
 * (responses-body.ts), so nothing is billed that the request does not carry.
 */
export function estimateResponsesInputTokens(request: ResponsesRequest): number {
  let total = PER_REPLY;
  if (request.instructions) total += PER_MESSAGE + countTextTokens(request.instructions);
  if (typeof request.input === "string") total += PER_MESSAGE + countTextTokens(request.input);
  else for (const item of request.input) total += itemTokens(item);
  for (const tool of request.tools ?? []) total += jsonTokens(tool);
  if (typeof request.tool_choice === "object") total += jsonTokens(request.tool_choice);
  const format = request.text?.format;
  if (format && format.type !== "text") total += jsonTokens(format);
  return total;
}

/** Every text a Responses API request carries, for the content rules (as chatInputText for chat). */
export function responsesInputText(request: ResponsesRequest): string {
  const out: string[] = [];
  if (request.instructions) out.push(request.instructions);
  const content = (c: ResponsesContent) => {
    if (typeof c === "string") out.push(c);
    else for (const part of c) out.push(partText(part));
  };
  for (const item of typeof request.input === "string" ? [] : request.input) {
    if (item.type === "message") content(item.content);
    else if (item.type === "function_call") out.push(item.name, item.arguments);
    else if (item.type === "custom_tool_call") out.push(item.name, item.input);
    else if (item.type === "reasoning")
      for (const part of [...item.summary, ...(item.content ?? [])]) out.push(part.text);
    else content(item.output);
  }
  if (typeof request.input === "string") out.push(request.input);
  strings([request.tools, request.tool_choice, request.text?.format], out);
  strings(Object.values(request.metadata ?? {}), out);
  return out.join("\n");
}

/** Embedding input: strings, or pre-tokenised arrays of token ids. */
export function embeddingInputs(input: EmbeddingsRequest["input"]): string[] | number[][] {
  if (typeof input === "string") return [input];
  if (input.every((i) => typeof i === "string")) return input as string[];
  if (input.every((i) => typeof i === "number")) return [input as number[]];
  return input as number[][];
}

export function estimateEmbeddingTokens(inputs: string[] | number[][]): number {
  let total = 0;
  for (const i of inputs) total += typeof i === "string" ? countTextTokens(i) : i.length;
  return total;
}

/** Token ids as text in `decodeWith`'s vocabulary, or null when an id is not in it. */
function decodedOrNull(ids: number[], decodeWith: (ids: number[]) => string): string | null {
  try {
    return decodeWith(ids);
  } catch {
    return null;
  }
}

/**
 * The text of embedding inputs, for the content rules. Token ids are decoded in both vocabularies an
 * OpenAI-compatible upstream may use (cl100k_base for OpenAI's embedding models, o200k_base for newer
 * ones); null when some input is in neither, which no upstream could read.
 */
export function embeddingText(inputs: string[] | number[][]): string | null {
  const out: string[] = [];
  for (const input of inputs) {
    if (typeof input === "string") {
      out.push(input);
      continue;
    }
    const texts = [decodedOrNull(input, decode), decodedOrNull(input, decodeCl100k)];
    if (texts.every((t) => t === null)) return null;
    for (const t of texts) if (t !== null) out.push(t);
  }
  return out.join("\n");
}
