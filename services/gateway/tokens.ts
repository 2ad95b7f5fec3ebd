import { countTokens, decode, encode } from "gpt-tokenizer";

/** Special tokens in user text are counted as plain text, never refused by the tokenizer. */
const plainText = { disallowedSpecial: new Set<string>() };
/** Per-message framing tokens of the chat format, as OpenAI counts them. */
const PER_MESSAGE = 4;
const PER_REPLY = 3;

export function countTextTokens(text: string): number {
  return text === "" ? 0 : countTokens(text, plainText);
}

/** The first `n` tokens of `text` (o200k_base), as text. */
export function firstTokens(text: string, n: number): string {
  return decode(encode(text, plainText).slice(0, n));
}

interface ChatMessage {
  role?: unknown;
  content?: unknown;
  name?: unknown;
}

/** The text of a message's content: a string or an array of parts whose text parts count. */
export function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const part of content) {
    if (part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string") {
      text += `${text === "" ? "" : "\n"}${(part as { text: string }).text}`;
    }
  }
  return text;
}

/** Everything the content rules apply to: every message's text, one per line. */
export function chatInputText(messages: readonly ChatMessage[]): string {
  return messages.map((m) => messageText(m.content)).join("\n");
}

/** Prompt tokens of a chat request: each message's text plus the chat format's framing. */
export function estimateChatPromptTokens(messages: readonly ChatMessage[]): number {
  let total = PER_REPLY;
  for (const m of messages) {
    total += PER_MESSAGE + countTextTokens(messageText(m.content));
    if (typeof m.name === "string") total += 1 + countTextTokens(m.name);
  }
  return total;
}

/** Embedding input: a string, strings, or pre-tokenised arrays of token ids. */
export function embeddingInputs(input: unknown): string[] | number[][] | null {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((i) => typeof i === "string")) return input as string[];
  if (input.every((i) => typeof i === "number")) return [input as number[]] as number[][];
  if (input.every((i) => Array.isArray(i) && i.every((n) => typeof n === "number"))) return input as number[][];
  return null;
}

export function estimateEmbeddingTokens(inputs: string[] | number[][]): number {
  let total = 0;
  for (const i of inputs) total += typeof i === "string" ? countTextTokens(i) : i.length;
  return total;
}
