import type { ExecutionResult } from "graphql";
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { type ErrorCode, isAppError } from "../shared/errors.ts";

interface WithErrors {
  errors?: unknown[];
  code?: string;
  statusCode?: number;
}

/** Errors mercurius wraps in one (validation): each becomes a GraphQL error of its own. */
function flatten(error: GraphQLError): GraphQLError[] {
  const wrapper = error.originalError as WithErrors | undefined;
  const inner = wrapper?.errors;
  if (!Array.isArray(inner)) return [error];
  // A plain error inside a refusal of the request (validation, GET for a mutation) is the client's.
  const clientError = typeof wrapper?.statusCode === "number" && wrapper.statusCode < 500;
  return inner.map((e) => {
    if (e instanceof GraphQLError) return e;
    if (!clientError) return new GraphQLError((e as Error).message, { originalError: e as Error });
    return new GraphQLError((e as Error).message, { extensions: { code: "BAD_USER_INPUT" } });
  });
}

/** The code a client branches on, for any error a request can end with. */
function codeOf(error: GraphQLError): ErrorCode {
  const original = error.originalError;
  if (isAppError(original)) return original.code;
  const declared = error.extensions?.code ?? (original as GraphQLError | undefined)?.extensions?.code;
  if (typeof declared === "string") return declared as ErrorCode;
  // HTTP-level refusals (body too large, unparseable JSON, GET for a mutation) say what was wrong.
  const status = (original as WithErrors | undefined)?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) return "BAD_USER_INPUT";
  // Errors graphql-js raises itself about the document carry no original error; variable coercion
  // failures say "got invalid value".
  if (original === undefined || original instanceof GraphQLError) {
    return /invalid value|Expected value of type|Expected type/.test(error.message)
      ? "BAD_USER_INPUT"
      : "GRAPHQL_VALIDATION_FAILED";
  }
  return "INTERNAL";
}

/**
 * One GraphQL error as the client sees it: the message and `extensions.code` (plus the details of our
 * own errors), never a stack trace. Faults we did not foresee are logged and answered as INTERNAL.
 */
export function formatError(error: GraphQLError, log: (error: unknown) => void): GraphQLFormattedError {
  const code = codeOf(error);
  const original = error.originalError;
  const known = code !== "INTERNAL" || isAppError(original);
  if (!known) log(original ?? error);
  return {
    message: known ? error.message : "internal error",
    ...(error.locations ? { locations: error.locations } : {}),
    ...(error.path ? { path: error.path } : {}),
    extensions: {
      ...(known ? error.extensions : {}),
      code,
      ...(isAppError(original) && original.details ? original.details : {}),
    },
  };
}

interface ErrorContext {
  reply?: { log: { error(obj: unknown, msg: string): void } };
  app?: { log: { error(obj: unknown, msg: string): void } };
}

/** mercurius' errorFormatter: every error through formatError. */
export function errorFormatter(execution: ExecutionResult & { statusCode?: number }, context: unknown) {
  const ctx = context as ErrorContext;
  const logger = ctx?.reply?.log ?? ctx?.app?.log;
  const log = (err: unknown) => logger?.error({ err }, "unexpected error in a GraphQL request");
  const errors = (execution.errors ?? []).flatMap((e) => flatten(e)).map((e) => formatError(e, log));
  // Resolver errors answer 200 (GraphQL over HTTP); refusals before execution keep their HTTP status (413, 429).
  const first = execution.errors?.length === 1 ? execution.errors[0] : undefined;
  // A refusal of ours (limits) is the error itself; mercurius' and fastify's are wrapped in one.
  const only = (first?.originalError ?? first) as WithErrors | undefined;
  return {
    statusCode: execution.data ? 200 : (execution.statusCode ?? only?.statusCode ?? 200),
    response: { data: execution.data ?? null, errors },
  };
}
