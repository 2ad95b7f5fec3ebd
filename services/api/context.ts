import { timingSafeEqual } from "node:crypto";
import { governanceOf } from "../chain/deployment.ts";
import { findApiKey } from "../db/api-keys.ts";
import { indexCheckpoint } from "../db/governance-queries.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors.ts";
import { createLoaders, type Loaders } from "./loaders.ts";

/** Who is asking: the operator (operator token), a consumer (one of its live API keys), or anyone. */
export type Caller =
  | { kind: "operator" }
  | { kind: "consumer"; address: string; keyId: string }
  | { kind: "anonymous" };

export interface ApiContext {
  deps: Deps;
  loaders: Loaders;
  /** The governor's clock value proposal states are judged at (Unix seconds, or a block number); read once per request. */
  clock(): Promise<number>;
  /** The caller, from the Authorization header; resolved once, and only when a field needs it. */
  caller(): Promise<Caller>;
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= fn();
    return value;
  };
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function identify(deps: Deps, authorization: string | undefined): Promise<Caller> {
  if (!authorization) return { kind: "anonymous" };
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!match) throw new AppError("UNAUTHENTICATED", "Authorization must be `Bearer <api key or operator token>`");
  const token = match[1] as string;
  const operatorToken = deps.config.OPERATOR_TOKEN;
  if (operatorToken && sameSecret(token, operatorToken)) return { kind: "operator" };
  const key = await findApiKey(deps.database.db, token);
  if (!key || key.revoked) throw new AppError("UNAUTHENTICATED", "the API key is unknown or revoked");
  return { kind: "consumer", address: key.address, keyId: key.id };
}

/**
 * One request's context. Proposal states are judged at the later of the newest indexed block's time and
 * the service's clock: the chain's own clock where it ran ahead (a test chain), wall time on an idle chain.
 * A governor on a block-number clock (an existing DAO's) counts its snapshots and deadlines in blocks:
 * its states are judged at the newest indexed block.
 */
export function createContext(
  deps: Deps,
  authorization: string | undefined,
  options: { longLived?: boolean } = {},
): ApiContext {
  const clock = async () => {
    const checkpoint = await indexCheckpoint(deps.database.db);
    if (governanceOf(deps.deployment).clock === "blocknumber") return checkpoint?.block_number ?? 0;
    return Math.max(checkpoint?.block_time ?? 0, Math.floor(deps.now() / 1000));
  };
  return {
    deps,
    loaders: createLoaders(deps.database.db),
    clock: options.longLived ? clock : once(clock),
    caller: once(() => identify(deps, authorization)),
  };
}

/** The consumer whose records the caller may read: its own, or anyone's (or everyone's) for the operator. */
export async function readableConsumer(ctx: ApiContext, asked: string | undefined): Promise<string | undefined> {
  const caller = await ctx.caller();
  if (caller.kind === "operator") return asked;
  if (caller.kind === "anonymous") {
    throw new AppError("UNAUTHENTICATED", "send `Authorization: Bearer <api key>` to read usage and decisions");
  }
  if (asked !== undefined && asked !== caller.address) {
    throw new AppError("FORBIDDEN", `an API key of ${caller.address} cannot read the records of ${asked}`);
  }
  return caller.address;
}
