import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationTypeNode,
  type SelectionSetNode,
  specifiedRules,
  validate,
} from "graphql";
import { type ComplexityEstimator, getComplexity } from "graphql-query-complexity";

/** Deepest selection answered (proposals → edges → node → votes → edges → node → proposal → … ). */
export const MAX_DEPTH = 10;
/** Cost budget of one operation: every field costs its weight, and a list of `first` items costs `first` times its items. */
export const MAX_COMPLEXITY = 5_000;
/** Bytes of one GraphQL request body. */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * Root fields one operation may ask for, aliases included: enough for a page that reads several lists at
 * once, too few to multiply an expensive field (500 × policyStatus) in one request. One mutation per
 * request: each write, signature check or relay then costs the client one request of its rate limit.
 */
export const MAX_ROOT_FIELDS = { query: 20, mutation: 1, subscription: 1 } as const;
/** Aliased fields anywhere in one operation (fragments expanded): aliases are how one field is repeated. */
export const MAX_ALIASES = 50;

/**
 * What a field costs beyond 1: fields that read the chain, recompute a policy decision, write, sign or
 * relay, and fields that carry large text. Everything else costs 1.
 */
export const FIELD_COSTS: Readonly<Record<string, number>> = {
  "Query.policyStatus": 50,
  "Query.syncStatus": 20,
  "Query.usage": 10,
  "PolicyStatus.recentDecisions": 5,
  "Mutation.draftProposal": 50,
  "Mutation.relayTransaction": 500,
  "Mutation.castVoteBySig": 500,
  "Mutation.delegateBySig": 500,
  "Mutation.siweNonce": 200,
  "Mutation.createApiKey": 500,
  "Mutation.revokeApiKey": 50,
  "Proposal.description": 10,
  "Proposal.calldatas": 10,
  "Proposal.actions": 10,
  "DraftedProposal.description": 10,
  "DraftedProposal.calldatas": 10,
  "Vote.reason": 5,
};

/** A refusal before execution: it keeps its HTTP status (400), as mercurius' own validation errors do. */
function tooComplex(message: string, extensions: Record<string, unknown>): GraphQLError {
  const error = new GraphQLError(message, { extensions: { code: "QUERY_TOO_COMPLEX", ...extensions } });
  return Object.assign(error, { statusCode: 400 });
}

/** A field's weight, times the page size when it is a list of `first` items. */
const weightEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  const weight = FIELD_COSTS[`${type.name}.${field.name}`] ?? 1;
  return typeof args.first === "number" ? weight + childComplexity * args.first : weight + childComplexity;
};

/** Field selections one operation may make, counted with every fragment expanded where it is spread. */
export const MAX_FIELD_NODES = 2_000;

interface Shape {
  roots: number;
  fields: number;
  aliases: number;
  depth: number;
}

/**
 * Walks a selection set with fragments expanded where they are spread (cycles cut), counting fields,
 * aliases and depth; it stops as soon as the fields exceed MAX_FIELD_NODES, so a document of nested
 * fragment spreads cannot make the walk itself expensive.
 */
function walk(
  set: SelectionSetNode | undefined,
  fragments: Map<string, FragmentDefinitionNode>,
  shape: Shape,
  depth: number,
  visiting: Set<string>,
): void {
  if (!set) return;
  for (const selection of set.selections) {
    if (shape.fields > MAX_FIELD_NODES) return;
    if (selection.kind === Kind.FIELD) {
      shape.fields++;
      if (depth === 0) shape.roots++;
      if (selection.alias) shape.aliases++;
      shape.depth = Math.max(shape.depth, depth + 1);
      walk(selection.selectionSet, fragments, shape, depth + 1, visiting);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      walk(selection.selectionSet, fragments, shape, depth, visiting);
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      // A fragment spreading itself is refused by validation; here it just stops the walk.
      if (!fragment || visiting.has(name)) continue;
      visiting.add(name);
      walk(fragment.selectionSet, fragments, shape, depth, visiting);
      visiting.delete(name);
    }
  }
}

function shapesOf(document: DocumentNode): [OperationTypeNode, Shape][] {
  try {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    return document.definitions.flatMap((operation): [OperationTypeNode, Shape][] => {
      if (operation.kind !== Kind.OPERATION_DEFINITION) return [];
      const shape: Shape = { roots: 0, fields: 0, aliases: 0, depth: 0 };
      walk(operation.selectionSet, fragments, shape, 0, new Set());
      return [[operation.operation, shape]];
    });
  } catch (cause) {
    // Only a document sent pre-parsed (JSON) can be malformed this way.
    throw new GraphQLError("the document is not a GraphQL document: send the operation as a string", {
      extensions: { code: "BAD_USER_INPUT" },
      originalError: cause as Error,
    });
  }
}

/**
 * Refuses, with QUERY_TOO_COMPLEX, an operation with more root fields, field selections or aliases than
 * the limits, or nested deeper than MAX_DEPTH. It needs no variables, so it runs before the document is
 * even validated (validation compares repeated fields pairwise: it must not see thousands of them).
 */
export function checkShape(document: DocumentNode): void {
  for (const [kind, shape] of shapesOf(document)) {
    const maximum = MAX_ROOT_FIELDS[kind];
    if (shape.roots > maximum) {
      throw tooComplex(
        `the ${kind} asks for ${shape.roots} root fields or more, above the limit of ${maximum}: send separate requests, each field once`,
        { rootFields: shape.roots, maximum },
      );
    }
    if (shape.fields > MAX_FIELD_NODES) {
      throw tooComplex(
        `the ${kind} selects more than ${MAX_FIELD_NODES} fields (fragments counted where they are spread): ask for fewer fields`,
        { maximum: MAX_FIELD_NODES },
      );
    }
    if (shape.aliases > MAX_ALIASES) {
      throw tooComplex(
        `the ${kind} uses ${shape.aliases} aliases, more than the limit of ${MAX_ALIASES}: ask for each field once and send separate requests for more`,
        { aliases: shape.aliases, maximum: MAX_ALIASES },
      );
    }
    if (shape.depth > MAX_DEPTH) {
      throw tooComplex(`the ${kind} is ${shape.depth} fields deep, more than the limit of ${MAX_DEPTH}`, {
        depth: shape.depth,
        maximum: MAX_DEPTH,
      });
    }
  }
}

/**
 * Refuses, with QUERY_TOO_COMPLEX, an operation whose estimated cost exceeds MAX_COMPLEXITY. Run before
 * execution on queries, mutations and subscriptions alike, with the request's variables so that
 * `first: $n` counts.
 */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
): void {
  // mercurius hands the same parsed document for a repeated query: it is measured once per variables.
  const key = JSON.stringify(variables ?? {}, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
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
    throw tooComplex(
      `the operation costs ${complexity}, more than the limit of ${MAX_COMPLEXITY}: ask for smaller pages or fewer fields`,
      { complexity, maximum: MAX_COMPLEXITY },
    );
  }
}

const measured = new WeakMap<DocumentNode, Map<string, number>>();

function measure(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined) {
  try {
    return getComplexity({ schema, query: document, variables: variables ?? {}, estimators: [weightEstimator] });
  } catch (cause) {
    // The variables do not fit the operation (graphql-js would refuse them the same way).
    throw new GraphQLError((cause as Error).message, {
      extensions: { code: "BAD_USER_INPUT" },
      originalError: cause as Error,
    });
  }
}

/**
 * What mercurius does for queries and skips for subscriptions: the document is held to the shape limits
 * and validated against the schema (a subscription may arrive as a pre-parsed document, which mercurius
 * neither parses nor validates). The cost, which needs the variables, is checked as it starts.
 */
export function checkSubscriptionDocument(schema: GraphQLSchema, document: DocumentNode): void {
  checkShape(document);
  let errors: readonly GraphQLError[];
  try {
    errors = validate(schema, document, specifiedRules);
  } catch (cause) {
    throw new GraphQLError("the subscription is not a GraphQL document: send it as a string", {
      extensions: { code: "BAD_USER_INPUT" },
      originalError: cause as Error,
    });
  }
  const [first] = errors;
  if (first) throw new GraphQLError(first.message, { extensions: { code: "GRAPHQL_VALIDATION_FAILED" } });
}
