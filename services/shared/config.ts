import { isIP } from "node:net";
import { z } from "zod";
import { AppError } from "./errors.ts";
import { loadUpstreams, type ProviderSettings } from "./upstreams-config.ts";

const port = z.coerce.number().int().min(0).max(65535);
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");
const privateKey = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex private key");

/** An entry of TRUST_PROXY as fastify's proxy-addr reads it: an address, a CIDR, or a named range. */
function isProxyAddress(entry: string): boolean {
  if (["loopback", "linklocal", "uniquelocal"].includes(entry)) return true;
  const [address, bits, extra] = entry.split("/");
  const family = isIP(address ?? "");
  if (family === 0 || extra !== undefined) return false;
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/**
 * Every setting of the service, from the environment. Unset values fall back to the embedded
 * development defaults (in-process chain, PGlite, local development model).
 */
const schema = z.object({
  PORT: port.default(4000),
  HOST: z.string().min(1).default("127.0.0.1"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Postgres URL; unset: PGlite in DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
  DATA_DIR: z.string().min(1).default(".data"),
  /** JSON-RPC URL of the chain; unset: Hardhat's in-process EVM, served on RPC_PORT. */
  RPC_URL: z.string().url().optional(),
  RPC_PORT: port.default(8545),
  /**
   * The JSON-RPC URL published to clients in GET /deployment (the CLI, the demo and the web app use it).
   * Default: the development chain's own URL; unset with RPC_URL, which may carry a provider key.
   */
  PUBLIC_RPC_URL: z.string().url().optional(),
  /** Deployment file (chain id, addresses, deploy block); required with RPC_URL. */
  DEPLOYMENT_FILE: z.string().min(1).optional(),
  /** Blocks to wait before indexing a block (0 on the development chain). */
  CONFIRMATIONS: z.coerce.number().int().min(0).max(1000).default(0),
  POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(1000),
  /** OpenAI-compatible upstream; unset: the local development model. */
  UPSTREAM_URL: z.string().url().optional(),
  UPSTREAM_API_KEY: z.string().min(1).optional(),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
  /** A replica admits on its budget slices only while it renewed their lease within this (ms). */
  LEASE_TTL_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /** Several providers, weighted, with fallback: JSON, or a JSON file (services/shared/upstreams-config.ts). */
  UPSTREAMS: z.string().min(1).optional(),
  UPSTREAMS_FILE: z.string().min(1).optional(),
  /** Refuse AI calls with POLICY_STATE_STALE when the index is further behind than this (seconds). */
  MAX_POLICY_STALENESS_S: z.coerce.number().int().min(1).max(86_400).default(60),
  /** Admit calls on the last known policies even when the index is stale (operators' choice; off by default). */
  ALLOW_STALE_POLICY: bool.default("false"),
  /** max_tokens applied to requests that name none. */
  DEFAULT_MAX_TOKENS: z.coerce.number().int().min(1).max(1_000_000).default(256),
  /** Key that relays castVoteBySig ballots; unset: gasless voting is off. */
  RELAYER_PRIVATE_KEY: privateKey.optional(),
  /** Key that anchors usage receipts' roots (UsageAnchor's anchorer); unset: the development chain's, else no anchoring. */
  ANCHOR_PRIVATE_KEY: privateKey.optional(),
  /** Length of a receipts anchoring period, in seconds (a divisor of the pool's epoch, so epochs end on a period's end). */
  ANCHOR_PERIOD_S: z.coerce.number().int().min(1).max(86_400).default(3600),
  /** How long after a period's end its tree is built: settlements begun in the period have committed by then. */
  ANCHOR_DELAY_MS: z.coerce.number().int().min(0).max(3_600_000).default(15_000),
  /** Public base URL a period's receipts are downloaded from (its anchor names `<base>/receipts/periods/<n>`). */
  ANCHOR_URI_BASE: z.string().url().optional(),
  /**
   * sha256 of each call's request and response bodies in its receipt (requestHash, responseHash): the only
   * work receipts add to a call. false: receipts carry zero hashes, as records older than migration 0022.
   */
  RECEIPT_BODY_HASHES: bool.default("true"),
  /** Bearer token operators use for GraphQL usage/decisions of every consumer. */
  OPERATOR_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  /** Domain that Sign-In with Ethereum messages must name; default host:port of the service. */
  SIWE_DOMAIN: z.string().min(1).optional(),
  /** GraphQL requests per minute per client. */
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  /**
   * Proxies whose X-Forwarded-For is believed (fastify's trustProxy): `true` (any), or a comma-separated
   * list of addresses, CIDRs or `loopback`. Unset: the client is the socket's peer, whatever headers say.
   */
  TRUST_PROXY: z
    .string()
    .min(1)
    .refine(
      (v) => v === "true" || v === "false" || v.split(",").every((entry) => isProxyAddress(entry.trim())),
      "must be true, false, or comma-separated addresses, CIDRs, loopback, linklocal or uniquelocal",
    )
    .transform((v): boolean | string => (v === "true" ? true : v === "false" ? false : v))
    .optional(),
  /** Time a client has to send a whole request (headers and body). */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Time a client has to send a request's headers. */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /** An idle keep-alive connection is closed after this long. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(72_000),
  /** A connection silent this long (no byte either way) is closed; above UPSTREAM_TIMEOUT_MS for streams. */
  HTTP_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(120_000),
  /** Open connections the server accepts at once (HTTP and websockets); more are dropped. */
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(1024),
  /** Bytes of one GraphQL answer; a larger one is refused with QUERY_TOO_COMPLEX. */
  API_MAX_RESPONSE_BYTES: z.coerce.number().int().min(1024).default(4_194_304),
  /** Websocket (subscription) connections one client may hold open. */
  API_WS_CONNECTIONS_PER_CLIENT: z.coerce.number().int().min(1).default(10),
  /** Subscriptions one websocket connection may run at once. */
  API_SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).default(20),
  /** API keys (createApiKey) one client may obtain per hour, on all replicas together. */
  SIGN_INS_PER_HOUR: z.coerce.number().int().min(1).default(20),
  /** Live (unrevoked) API keys one address may hold. */
  API_KEYS_PER_ADDRESS: z.coerce.number().int().min(1).default(10),
  /** Relayed transactions (castVoteBySig, relayTransaction) per voter or signer per day, on all replicas. */
  RELAY_PER_VOTER_PER_DAY: z.coerce.number().int().min(1).default(50),
  /** Relayed transactions per client per day, on all replicas. */
  RELAY_PER_CLIENT_PER_DAY: z.coerce.number().int().min(1).default(200),
  /** Wei the relayer may spend on gas (gas limit times price) per day, on all replicas. */
  RELAY_MAX_SPEND_WEI_PER_DAY: z
    .string()
    .regex(/^[0-9]{1,78}$/, "must be a decimal amount of wei")
    .transform(BigInt)
    .default("1000000000000000000"),
  /** Voting power (token units) a voter needs at the snapshot for the relayer to pay for the ballot. */
  RELAY_MIN_VOTING_POWER: z
    .string()
    .regex(/^[0-9]{1,78}$/, "must be a decimal amount of token units")
    .transform(BigInt)
    .default("1000000000000000000"),
  /** Bytes of a relayed ballot's reason (the relayer pays for every byte on chain). */
  RELAY_MAX_REASON_BYTES: z.coerce.number().int().min(0).max(65_536).default(1024),
  /** How long a proposal's simulation on a fork of the chain may take (proposalImpact). */
  IMPACT_SIMULATION_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  // Notifications (services/notifications): outbox, webhook and email delivery.
  /** Write and deliver notifications (on by default; off skips the outbox in the indexer too). */
  NOTIFICATIONS: bool.default("true"),
  /** Accept webhook URLs on loopback addresses: for development and tests only (never in production). */
  NOTIFY_ALLOW_LOOPBACK: bool.default("false"),
  /** "Voting ends soon" is sent this many seconds before a proposal's deadline. */
  NOTIFY_VOTING_ENDS_WITHIN_S: z.coerce.number().int().min(1).default(3600),
  /** A receiver that has not answered within this is counted as failed (the attempt is retried). */
  NOTIFY_TIMEOUT_MS: z.coerce.number().int().min(50).max(120_000).default(10_000),
  /** First retry delay; doubles per attempt (with jitter) up to NOTIFY_RETRY_MAX_MS. */
  NOTIFY_RETRY_BASE_MS: z.coerce.number().int().min(1).default(1_000),
  NOTIFY_RETRY_MAX_MS: z.coerce.number().int().min(1).default(600_000),
  /** An event still undelivered this long after it was due is dead-lettered (shown, no longer tried). */
  NOTIFY_DEAD_AFTER_MS: z.coerce.number().int().min(1).default(86_400_000),
  /** Receivers' requests in flight at once. */
  NOTIFY_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(64),
  /** Subscriptions one owner (address) may hold. */
  NOTIFY_SUBSCRIPTIONS_PER_OWNER: z.coerce.number().int().min(1).default(20),
  /** Confirmation mails one email address may be sent in 24 hours, whoever asks. */
  NOTIFY_CONFIRMATIONS_PER_ADDRESS: z.coerce.number().int().min(1).default(3),
  /** Confirmation mails one owner may cause in 24 hours, to any addresses. */
  NOTIFY_CONFIRMATIONS_PER_OWNER: z.coerce.number().int().min(1).default(10),
  /** A policy change is announced to owners whose keys used one of its models within this many days. */
  NOTIFY_POLICY_USAGE_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /** How often the delivering leader scans the ledger for budgets crossing 80% and 100% (ms). */
  NOTIFY_BUDGET_SCAN_MS: z.coerce.number().int().min(50).default(10_000),
  /** SMTP server for email notifications (smtp:// or smtps://, credentials in the URL); unset: no email. */
  SMTP_URL: z.string().url().optional(),
  /** Sender of notification emails. */
  SMTP_FROM: z.string().min(3).default("AI Commons <notifications@localhost>"),
  /** Public base URL of the service, for links in emails (confirm, unsubscribe); default the listening URL. */
  PUBLIC_URL: z.string().url().optional(),
});

/** The settings, and the providers UPSTREAMS or UPSTREAMS_FILE lists, keys read (null when neither is set). */
export type Config = z.infer<typeof schema> & { upstreams: ProviderSettings[] | null };

/** Reads and validates the configuration; every bad value is named in one clear error. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(schema.shape).map((key) => [key, env[key] === "" ? undefined : env[key]]),
  );
  const parsed = schema.safeParse(known);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new AppError("CONFIG_INVALID", `invalid configuration: ${problems}`);
  }
  const config = parsed.data;
  if (config.RPC_URL && !config.DEPLOYMENT_FILE) {
    throw new AppError("CONFIG_INVALID", "invalid configuration: DEPLOYMENT_FILE is required when RPC_URL is set");
  }
  if (config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS) {
    throw new AppError(
      "CONFIG_INVALID",
      "invalid configuration: HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS",
    );
  }
  if (config.HTTP_IDLE_TIMEOUT_MS <= config.UPSTREAM_TIMEOUT_MS) {
    throw new AppError(
      "CONFIG_INVALID",
      "invalid configuration: HTTP_IDLE_TIMEOUT_MS must exceed UPSTREAM_TIMEOUT_MS (a silent upstream would cut the client's stream first)",
    );
  }
  if (config.UPSTREAM_API_KEY && !config.UPSTREAM_URL) {
    throw new AppError("CONFIG_INVALID", "invalid configuration: UPSTREAM_API_KEY is set but UPSTREAM_URL is not");
  }
  return { ...config, upstreams: loadUpstreams(config, env) };
}
