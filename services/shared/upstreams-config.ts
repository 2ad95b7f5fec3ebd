import { readFileSync } from "node:fs";
import { z } from "zod";
import { AppError } from "./errors.ts";

/** One upstream provider as the gateway uses it: its key read from the environment. */
export interface ProviderSettings {
  /** Names the provider in audit records and metric labels. */
  name: string;
  /** OpenAI-compatible base URL, such as https://api.openai.com/v1. */
  url: string;
  apiKey: string | undefined;
  /** Its share of the calls for a model that several providers serve. */
  weight: number;
  /** Model ids it serves; null: every model. */
  models: readonly string[] | null;
}

const provider = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, "must be 1 to 32 of a-z, 0-9, '.', '_', '-' (it is a metric label)"),
    url: z.string().url(),
    /** The environment variable that holds the key: never the key itself in the file. */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be the name of an environment variable")
      .optional(),
    weight: z.number().int().min(1).max(1_000).default(1),
    models: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();
const providers = z
  .array(provider)
  .min(1)
  .max(32)
  .refine((list) => new Set(list.map((p) => p.name)).size === list.length, "provider names must be unique");

const invalid = (message: string): never => {
  throw new AppError("CONFIG_INVALID", `invalid configuration: ${message}`);
};

/**
 * The providers of UPSTREAMS (JSON) or UPSTREAMS_FILE (a JSON file): a list of
 * `{ name, url, apiKeyEnv?, weight?, models? }`, each key read from the environment variable its
 * `apiKeyEnv` names. Null when neither is set (UPSTREAM_URL, or the development model, then serves).
 */
export function loadUpstreams(
  settings: { UPSTREAMS?: string | undefined; UPSTREAMS_FILE?: string | undefined; UPSTREAM_URL?: string | undefined },
  env: Record<string, string | undefined>,
): ProviderSettings[] | null {
  const { UPSTREAMS, UPSTREAMS_FILE, UPSTREAM_URL } = settings;
  if (UPSTREAMS === undefined && UPSTREAMS_FILE === undefined) return null;
  if (UPSTREAMS !== undefined && UPSTREAMS_FILE !== undefined) invalid("set UPSTREAMS or UPSTREAMS_FILE, not both");
  if (UPSTREAM_URL !== undefined) invalid("UPSTREAM_URL is one provider: list it in UPSTREAMS instead of setting both");
  const where = UPSTREAMS_FILE === undefined ? "UPSTREAMS" : `UPSTREAMS_FILE (${UPSTREAMS_FILE})`;
  let text = UPSTREAMS as string;
  if (UPSTREAMS_FILE !== undefined) {
    try {
      text = readFileSync(UPSTREAMS_FILE, "utf8");
    } catch (cause) {
      invalid(`${where} cannot be read: ${(cause as Error).message}`);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    invalid(`${where} is not JSON`);
  }
  // A key in clear in a file or variable that is often logged or committed: refused, with the way out.
  if (Array.isArray(value) && value.some((p) => p !== null && typeof p === "object" && "apiKey" in p))
    invalid(`${where}: apiKey is not accepted; put the key in an environment variable and name it in apiKeyEnv`);
  const parsed = providers.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.ZodIssue;
    invalid(`${where}${issue.path.length ? ` at ${issue.path.join(".")}` : ""}: ${issue.message}`);
  }
  return (parsed.data ?? []).map((p) => {
    const apiKey = p.apiKeyEnv === undefined ? undefined : env[p.apiKeyEnv];
    if (p.apiKeyEnv !== undefined && !apiKey) invalid(`${where}: provider ${p.name}'s ${p.apiKeyEnv} is not set`);
    return { name: p.name, url: p.url, apiKey, weight: p.weight, models: p.models ?? null };
  });
}
