import type { Config } from "./config.ts";

/**
 * The parts of a URL that may carry a credential: providers put API keys in the path
 * (`/v3/<key>`), the query (`?apikey=`) or the user info. Only scheme and host are public.
 */
function secretPartsOf(url: string, options: { pathIsSecret: boolean }): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [url];
  }
  const parts = [url];
  const rest = `${parsed.pathname}${parsed.search}`;
  if (options.pathIsSecret && rest.length > 1) parts.push(rest);
  if (parsed.password) parts.push(parsed.password);
  return parts;
}

/** Every configured value that must never reach a client or a log line, longest first. */
export function secretsOf(config: Partial<Config>): string[] {
  const values = [
    ...(config.RPC_URL ? secretPartsOf(config.RPC_URL, { pathIsSecret: true }) : []),
    ...(config.UPSTREAM_URL ? secretPartsOf(config.UPSTREAM_URL, { pathIsSecret: true }) : []),
    // A database URL's path is the database's name; its password is the secret.
    ...(config.DATABASE_URL ? secretPartsOf(config.DATABASE_URL, { pathIsSecret: false }) : []),
    config.UPSTREAM_API_KEY,
    config.OPERATOR_TOKEN,
    config.RELAYER_PRIVATE_KEY,
    config.RELAYER_PRIVATE_KEY?.slice(2),
  ];
  return [...new Set(values.filter((v): v is string => typeof v === "string" && v.length >= 4))].sort(
    (a, b) => b.length - a.length,
  );
}

/** `text` with every secret replaced; a URL keeps its scheme and host, so the message still says where. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (!result.includes(secret)) continue;
    let replacement = "[redacted]";
    try {
      replacement = `${new URL(secret).origin}/[redacted]`;
    } catch {
      // not a URL: the plain marker
    }
    result = result.replaceAll(secret, replacement);
  }
  return result;
}
