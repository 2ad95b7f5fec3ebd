/**
 * The one table of coded errors. Clients branch on `code`, never on the message.
 *
 * - Gateway reason codes are a contract with clients (docs/interfaces.md): they travel as OpenAI's error `code`.
 * - API codes travel as GraphQL `extensions.code`.
 * - Internal codes name faults at the edges (RPC, database, configuration) once they enter our code.
 *
 * `status` is the HTTP status a request answered with this error gets; `retryable` tells loops
 * (indexer, upstream client) whether trying again can help.
 */
export const errorTable = {
  // Gateway reason codes (docs/interfaces.md).
  INVALID_API_KEY: { status: 401, type: "invalid_request_error", retryable: false },
  MODEL_NOT_APPROVED: { status: 404, type: "invalid_request_error", retryable: false },
  MODEL_SUSPENDED: { status: 403, type: "invalid_request_error", retryable: false },
  PURPOSE_NOT_ALLOWED: { status: 403, type: "invalid_request_error", retryable: false },
  CONTENT_BLOCKED: { status: 400, type: "invalid_request_error", retryable: false },
  MAX_TOKENS_EXCEEDED: { status: 400, type: "invalid_request_error", retryable: false },
  RATE_LIMITED: { status: 429, type: "rate_limit_error", retryable: true },
  BUDGET_EXHAUSTED: { status: 429, type: "insufficient_quota", retryable: false },
  POLICY_STATE_STALE: { status: 503, type: "server_error", retryable: true },
  UPSTREAM_ERROR: { status: 502, type: "server_error", retryable: true },
  /** The model is approved, but no provider of this gateway serves it (the operator's configuration). */
  MODEL_NOT_SERVED: { status: 404, type: "invalid_request_error", retryable: false },
  // API codes (GraphQL extensions.code).
  BAD_USER_INPUT: { status: 400, type: "invalid_request_error", retryable: false },
  /** A draft names no proposer (no `proposer` argument, no signed-in wallet): it could be front-run and canceled. */
  PROPOSER_REQUIRED: { status: 400, type: "invalid_request_error", retryable: false },
  UNAUTHENTICATED: { status: 401, type: "invalid_request_error", retryable: false },
  FORBIDDEN: { status: 403, type: "invalid_request_error", retryable: false },
  NOT_FOUND: { status: 404, type: "invalid_request_error", retryable: false },
  RELAYER_NOT_CONFIGURED: { status: 503, type: "server_error", retryable: false },
  /** The document does not fit the schema (unknown field, wrong argument...). */
  GRAPHQL_VALIDATION_FAILED: { status: 400, type: "invalid_request_error", retryable: false },
  /** The query is deeper or costlier than the API answers. */
  QUERY_TOO_COMPLEX: { status: 400, type: "invalid_request_error", retryable: false },
  // Notification subscriptions (services/notifications).
  /** A webhook URL that is not an absolute http(s) URL. */
  WEBHOOK_URL_INVALID: { status: 400, type: "invalid_request_error", retryable: false },
  /** A webhook URL that points at this service, or at a loopback, link-local or unspecified address. */
  WEBHOOK_URL_FORBIDDEN: { status: 400, type: "invalid_request_error", retryable: false },
  /** An email address that cannot be mailed (not an address, or no SMTP_URL to send through). */
  EMAIL_UNVERIFIABLE: { status: 400, type: "invalid_request_error", retryable: false },
  /** The owner holds NOTIFY_SUBSCRIPTIONS_PER_OWNER subscriptions already. */
  SUBSCRIPTION_LIMIT: { status: 429, type: "invalid_request_error", retryable: false },
  /** The address, or the owner, was sent NOTIFY_CONFIRMATIONS_PER_ADDRESS (…_PER_OWNER) confirmation mails in 24 hours. */
  CONFIRMATION_LIMIT: { status: 429, type: "rate_limit_error", retryable: false },
  /** An unsubscribe or confirm link whose signature does not verify. */
  LINK_INVALID: { status: 400, type: "invalid_request_error", retryable: false },
  // Internal faults, wrapped where they enter our code.
  CONFIG_INVALID: { status: 500, type: "server_error", retryable: false },
  CONTRACTS_NOT_BUILT: { status: 500, type: "server_error", retryable: false },
  RPC_ERROR: { status: 502, type: "server_error", retryable: true },
  /** The node refused an eth_getLogs span as too large: the indexer shrinks the range, it does not retry it. */
  RPC_RANGE_REFUSED: { status: 502, type: "server_error", retryable: true },
  /** The chain replaced blocks deeper than the indexer keeps hashes for: it cannot find the common ancestor. */
  REORG_TOO_DEEP: { status: 500, type: "server_error", retryable: false },
  /** Another indexer moved the checkpoint under this one (lost leadership): this range is discarded. */
  INDEXER_CONFLICT: { status: 500, type: "server_error", retryable: true },
  DATABASE_ERROR: { status: 500, type: "server_error", retryable: true },
  /** A transaction the CLI or the demo sent was reverted by the chain (the message names the contract error). */
  TRANSACTION_REVERTED: { status: 409, type: "invalid_request_error", retryable: false },
  /** The chain a client reached is not the one the service governs (another chain id, or another chain's history). */
  CHAIN_MISMATCH: { status: 409, type: "invalid_request_error", retryable: false },
  /** A proposal's simulation on a fork of the chain did not finish in IMPACT_SIMULATION_TIMEOUT_MS. */
  SIMULATION_TIMEOUT: { status: 503, type: "server_error", retryable: true },
  /** The fork for a proposal's simulation could not be made or run (the RPC answered an error). */
  SIMULATION_FAILED: { status: 502, type: "server_error", retryable: true },
  INTERNAL: { status: 500, type: "server_error", retryable: false },
  /** `commons verify`: a receipt or a period's receipts did not verify against the root anchored on chain. */
  RECEIPT_NOT_VERIFIED: { status: 409, type: "invalid_request_error", retryable: false },
  // `commons deploy`: what stops a deployment before, during or after it runs.
  /** The endpoint serves another chain than the parameters file names. */
  DEPLOY_WRONG_CHAIN: { status: 400, type: "invalid_request_error", retryable: false },
  /** The deployer's balance cannot pay for the deployment's gas. */
  DEPLOY_NO_FUNDS: { status: 400, type: "invalid_request_error", retryable: false },
  /** The address given as the DAO's governor does not answer as an OpenZeppelin-compatible governor with a votes token. */
  DEPLOY_NOT_A_GOVERNOR: { status: 400, type: "invalid_request_error", retryable: false },
  /** The address given as the DAO's timelock does not answer as a TimelockController. */
  DEPLOY_NOT_A_TIMELOCK: { status: 400, type: "invalid_request_error", retryable: false },
  /** The timelock is not the one the governor executes through, so proposals could not reach what it would own. */
  DEPLOY_TIMELOCK_MISMATCH: { status: 400, type: "invalid_request_error", retryable: false },
  /** Ignition stopped (a transaction failed, or the journal does not match the parameters); a rerun resumes. */
  DEPLOY_FAILED: { status: 502, type: "server_error", retryable: true },
  /** The deployment ran, but a check of who owns and may do what failed. */
  DEPLOY_VERIFICATION_FAILED: { status: 500, type: "server_error", retryable: false },
} as const satisfies Record<string, { status: number; type: string; retryable: boolean }>;

export type ErrorCode = keyof typeof errorTable;

/** Reason codes a gateway decision can carry (a subset of the table). */
export type ReasonCode =
  | "INVALID_API_KEY"
  | "MODEL_NOT_APPROVED"
  | "MODEL_SUSPENDED"
  | "PURPOSE_NOT_ALLOWED"
  | "CONTENT_BLOCKED"
  | "MAX_TOKENS_EXCEEDED"
  | "RATE_LIMITED"
  | "BUDGET_EXHAUSTED"
  | "POLICY_STATE_STALE"
  | "UPSTREAM_ERROR"
  | "MODEL_NOT_SERVED";

/** An error of ours: a code from the table, a message that says what was wrong, optional details. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.status = errorTable[code].status;
    this.retryable = errorTable[code].retryable;
    this.details = options.details;
  }
}

export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}
