import type { DocumentTypeDecoration } from "@graphql-typed-document-node/core";
import { AppError, type ErrorCode, errorTable } from "../shared/errors.ts";

/** A GraphQL document as the code generator types it (its text, with its result and variables types). */
export type TypedDocument<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> & { toString(): string };

/** No argument for operations without variables, else exactly their variables. */
type VariablesOf<TVariables> = TVariables extends Record<string, never> ? [] : [TVariables];

export interface GraphqlClient {
  /** Runs one operation; the first GraphQL error is thrown as an AppError with its extensions.code. */
  request<TResult, TVariables>(
    document: TypedDocument<TResult, TVariables>,
    ...variables: VariablesOf<TVariables>
  ): Promise<TResult>;
}

function asCode(code: unknown): ErrorCode {
  return typeof code === "string" && code in errorTable ? (code as ErrorCode) : "INTERNAL";
}

/** A GraphQL client for the service at `url` (its base URL), optionally as the holder of `apiKey`. */
export function createGraphqlClient(url: string, options: { apiKey?: string } = {}): GraphqlClient {
  const endpoint = new URL("/graphql", url).toString();
  return {
    async request<TResult, TVariables>(
      document: TypedDocument<TResult, TVariables>,
      ...[variables]: VariablesOf<TVariables>
    ): Promise<TResult> {
      let res: Response;
      try {
        res = await fetch(endpoint, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          },
          body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
        });
      } catch (cause) {
        throw new AppError("UPSTREAM_ERROR", `cannot reach the service at ${endpoint}: is it running?`, { cause });
      }
      const text = await res.text();
      let body: { data?: TResult; errors?: { message: string; extensions?: Record<string, unknown> }[] };
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
      return body.data as TResult;
    },
  };
}
