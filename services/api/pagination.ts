import type { Page, PageRequest, Position } from "../db/governance-queries.ts";
import { AppError } from "../shared/errors.ts";

/** The largest page a list answers; larger `first` values are refused, not silently cut. */
export const MAX_PAGE_SIZE = 100;

/** Cursors are opaque to clients: the row's position in the list order, base64url-encoded JSON. */
export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify(position)).toString("base64url");
}

/**
 * The type of each part of a list's position, as its SQL column takes it: a cursor whose parts do not
 * fit is refused as the client's mistake instead of failing in Postgres.
 */
export type CursorPart = "int" | "int32" | "uint256" | "int64" | "text";

const fits: Record<CursorPart, (p: unknown) => boolean> = {
  int: (p) => typeof p === "number" && Number.isSafeInteger(p) && p >= 0,
  int32: (p) => typeof p === "number" && Number.isInteger(p) && p >= 0 && p <= 2 ** 31 - 1,
  uint256: (p) => typeof p === "string" && /^[0-9]{1,78}$/.test(p),
  int64: (p) => typeof p === "string" && /^[0-9]{1,18}$/.test(p),
  text: (p) => typeof p === "string" && p.length <= 256 && !p.includes("\0"),
};

export function decodeCursor(cursor: string, parts: readonly CursorPart[]): Position {
  try {
    const position = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (
      Array.isArray(position) &&
      position.length === parts.length &&
      position.every((p, i) => fits[parts[i] as CursorPart](p))
    ) {
      return position;
    }
  } catch {
    // Falls through to the error below: a cursor we did not issue.
  }
  throw new AppError("BAD_USER_INPUT", "after is not a cursor of this list (use pageInfo.endCursor)");
}

/** Checks `first` and `after` of a list whose positions have these parts. */
export function pageRequest(
  args: { first?: number | null; after?: string | null },
  parts: readonly CursorPart[],
): PageRequest {
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new AppError("BAD_USER_INPUT", `first must be between 1 and ${MAX_PAGE_SIZE}, got ${first}`);
  }
  return { first, after: args.after ? decodeCursor(args.after, parts) : null };
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** A page as a Relay-style connection; edges are built eagerly so that node fields batch in one tick. */
export function toConnection<R, T>(page: Page<R>, position: (row: R) => Position, node: (row: R) => T): Connection<T> {
  const edges = page.rows.map((row) => ({ cursor: encodeCursor(position(row)), node: node(row) }));
  return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
}

/** A connection whose total is counted only when asked for (a separate query). */
export interface CountedConnection<T> extends Connection<T> {
  totalCount: () => number | Promise<number>;
}

/** Resolvers of every counted connection type: the count runs only when selected. */
export const countedConnection = {
  totalCount: (c: { totalCount: () => number | Promise<number> }) => c.totalCount(),
};
