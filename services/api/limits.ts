import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type SelectionSetNode,
} from "graphql";
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
): void {
  // mercurius hands the same parsed document for a repeated query: its cost is computed once per variables.
  const key = JSON.stringify(variables ?? {});
  let costs = measured.get(document);
  if (!costs) {
    costs = new Map();
    measured.set(document, costs);
  }
  let complexity = costs.get(key);
  if (complexity === undefined) {
    complexity = measure(schema, document, variables);
    if (costs.size < 100) costs.set(key, complexity);
  }
  if (complexity > MAX_COMPLEXITY) {
    throw new GraphQLError(
      `the query costs ${complexity}, more than the limit of ${MAX_COMPLEXITY}: ask for smaller pages or fewer fields`,
      { extensions: { code: "QUERY_TOO_COMPLEX", complexity, maximum: MAX_COMPLEXITY } },
    );
  }
}

const measured = new WeakMap<DocumentNode, Map<string, number>>();

function measure(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined) {
  let complexity: number;
  try {
    complexity = getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      estimators: [pageEstimator, simpleEstimator({ defaultComplexity: 1 })],
    });
  } catch (cause) {
    // Only reachable without the variables (mercurius' subscription hooks do not pass them).
    throw new GraphQLError("subscriptions must give required arguments literally, not as variables", {
      extensions: { code: "BAD_USER_INPUT" },
      originalError: cause as Error,
    });
  }
  return complexity;
}

function selectionDepth(
  set: SelectionSetNode | undefined,
  fragments: Map<string, FragmentDefinitionNode>,
  visiting: Set<string>,
): number {
  if (!set) return 0;
  let deepest = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      deepest = Math.max(deepest, 1 + selectionDepth(selection.selectionSet, fragments, visiting));
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      deepest = Math.max(deepest, selectionDepth(selection.selectionSet, fragments, visiting));
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      // A fragment spreading itself is refused by validation; here it just stops the walk.
      if (!fragment || visiting.has(name)) continue;
      visiting.add(name);
      deepest = Math.max(deepest, selectionDepth(fragment.selectionSet, fragments, visiting));
      visiting.delete(name);
    }
  }
  return deepest;
}

/**
 * Refuses an operation nested deeper than MAX_DEPTH with QUERY_TOO_COMPLEX. Queries and mutations go
 * through mercurius' own queryDepth (same limit); this coded twin runs on subscriptions, whose
 * mercurius refusal carries no code.
 */
export function checkDepth(document: DocumentNode): void {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  for (const d of document.definitions) {
    if (d.kind !== Kind.OPERATION_DEFINITION) continue;
    const depth = selectionDepth(d.selectionSet, fragments, new Set());
    if (depth > MAX_DEPTH) {
      throw new GraphQLError(`the operation is ${depth} fields deep, more than the limit of ${MAX_DEPTH}`, {
        extensions: { code: "QUERY_TOO_COMPLEX", depth, maximum: MAX_DEPTH },
      });
    }
  }
}
