import { type DocumentNode, GraphQLError, type GraphQLSchema } from "graphql";
import { type ComplexityEstimator, getComplexity, simpleEstimator } from "graphql-query-complexity";

/** Deepest selection answered (proposals → edges → node → votes → edges → node → proposal → … ). */
export const MAX_DEPTH = 10;
/** Cost budget of one operation: every field costs 1, and a list of `first` items costs `first` times its items. */
export const MAX_COMPLEXITY = 5_000;
/** Bytes of one GraphQL request body. */
export const MAX_BODY_BYTES = 64 * 1024;

/** A paginated field multiplies what it selects by the page size it asked for. */
const pageEstimator: ComplexityEstimator = ({ args, childComplexity }) =>
  typeof args.first === "number" ? 1 + childComplexity * args.first : undefined;

/**
 * Refuses an operation whose estimated cost exceeds MAX_COMPLEXITY, with QUERY_TOO_COMPLEX. Run before
 * execution on queries, mutations and subscriptions alike (mercurius hooks), with the request's variables
 * so that `first: $n` counts.
 */
export function checkComplexity(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string,
): void {
  const complexity = getComplexity({
    schema,
    query: document,
    variables: variables ?? {},
    ...(operationName ? { operationName } : {}),
    estimators: [pageEstimator, simpleEstimator({ defaultComplexity: 1 })],
  });
  if (complexity > MAX_COMPLEXITY) {
    throw new GraphQLError(
      `the query costs ${complexity}, more than the limit of ${MAX_COMPLEXITY}: ask for smaller pages or fewer fields`,
      { extensions: { code: "QUERY_TOO_COMPLEX", complexity, maximum: MAX_COMPLEXITY } },
    );
  }
}
