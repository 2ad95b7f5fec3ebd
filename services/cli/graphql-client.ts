import { AppError, type ErrorCode, errorTable } from "../shared/errors.ts";

export interface GraphqlClient {
  /** Runs one operation; the first GraphQL error is thrown as an AppError with its extensions.code. */
  request<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

function asCode(code: unknown): ErrorCode {
  return typeof code === "string" && code in errorTable ? (code as ErrorCode) : "INTERNAL";
}

/** A GraphQL client for the service at `url` (its base URL), optionally as the holder of `apiKey`. */
export function createGraphqlClient(url: string, options: { apiKey?: string } = {}): GraphqlClient {
  const endpoint = new URL("/graphql", url).toString();
  return {
    async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
      let res: Response;
      try {
        res = await fetch(endpoint, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          },
          body: JSON.stringify({ query, variables }),
        });
      } catch (cause) {
        throw new AppError("UPSTREAM_ERROR", `cannot reach the service at ${endpoint}: is it running?`, { cause });
      }
      const text = await res.text();
      let body: { data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] };
      try {
        body = JSON.parse(text);
      } catch {
        throw new AppError(
          "UPSTREAM_ERROR",
          `${endpoint} answered ${res.status} without GraphQL: ${text.slice(0, 200)}`,
        );
      }
      const error = body.errors?.[0];
      if (error) {
        const { code, ...details } = error.extensions ?? {};
        throw new AppError(asCode(code), error.message, { details });
      }
      return body.data as T;
    },
  };
}
