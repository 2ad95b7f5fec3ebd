import pino, { type Logger } from "pino";

export type { Logger };

/** Paths that may carry secrets; pino replaces them before anything is written. */
export const redactedPaths = [
  "req.headers.authorization",
  "headers.authorization",
  "authorization",
  "apiKey",
  "key",
  "privateKey",
  "signature",
  "config.RELAYER_PRIVATE_KEY",
  "config.UPSTREAM_API_KEY",
  "config.OPERATOR_TOKEN",
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: redactedPaths, censor: "[redacted]" } }, destination);
}
