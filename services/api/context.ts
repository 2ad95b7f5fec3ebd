import type { FastifyRequest } from "fastify";
import type { MercuriusContext } from "mercurius";
import { governanceOf } from "../chain/deployment.ts";
import { indexCheckpoint } from "../db/governance-queries.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError, isAppError } from "../shared/errors.ts";
import { type Caller, callerOf, clientKeyOf } from "./caller.ts";
import { createLoaders, type Loaders } from "./loaders.ts";

export type { Caller } from "./caller.ts";

export interface ApiContext {
  deps: Deps;
  loaders: Loaders;
  /** The HTTP request (for a subscription: the websocket upgrade) the operation came in on. */
  request: FastifyRequest;
  /** The governor's clock value proposal states are judged at (Unix seconds, or a block number); read once per request. */
  clock(): Promise<number>;
  /** The caller, from the Authorization header; verified once per request, and only when needed. */
  caller(): Promise<Caller>;
  /** The key the client's quotas count under: its verified identity, else its address. */
  clientKey(): Promise<string>;
  /** The chain's newest block number; read once per request however many fields ask. */
  chainHead(): Promise<number>;
  /** `compute()` once per request under `key` (e.g. the policy snapshot policyStatus decides with). */
  perRequest<T>(key: string, compute: () => Promise<T>): Promise<T>;
  /** Subscriptions this websocket connection runs (shared by every subscription of the connection). */
  subscriptions: { active: number };
}

/** What resolvers receive: ours, with the pubsub mercurius adds to every operation's context. */
export type ResolverContext = ApiContext & Pick<MercuriusContext, "pubsub">;

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= fn();
    return value;
  };
}

/**
 * One request's context. Proposal states are judged at the later of the newest indexed block's time and
 * the service's clock: the chain's own clock where it ran ahead (a test chain), wall time on an idle chain.
 * A governor on a block-number clock (an existing DAO's) counts its snapshots and deadlines in blocks:
 * its states are judged at the newest indexed block.
 * A subscription's context lives as long as its connection: what changes over time is read per event.
 */
export function createContext(deps: Deps, request: FastifyRequest, options: { longLived?: boolean } = {}): ApiContext {
  const clock = async () => {
    const checkpoint = await indexCheckpoint(deps.database.db);
    if (governanceOf(deps.deployment).clock === "blocknumber") return checkpoint?.block_number ?? 0;
    return Math.max(checkpoint?.block_time ?? 0, Math.floor(deps.now() / 1000));
  };
  const chainHead = () =>
    deps.provider.getBlockNumber().catch((cause: unknown) => {
      throw new AppError("RPC_ERROR", "cannot read the chain head from the RPC endpoint", { cause });
    });
  const memo = new Map<string, Promise<unknown>>();
  return {
    deps,
    loaders: createLoaders(deps.database.db),
    request,
    clock: options.longLived ? clock : once(clock),
    caller: () => callerOf(deps, request),
    clientKey: once(() => clientKeyOf(deps, request)),
    chainHead: options.longLived ? chainHead : once(chainHead),
    perRequest<T>(key: string, compute: () => Promise<T>): Promise<T> {
      if (options.longLived) return compute();
      let value = memo.get(key) as Promise<T> | undefined;
      if (!value) {
        value = compute();
        memo.set(key, value);
      }
      return value;
    },
    subscriptions: { active: 0 },
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

/** Whether the caller may read `consumer`'s private records (its budget, its decisions), and if not, why. */
export async function privateAccess(
  ctx: ApiContext,
  consumer: string,
): Promise<{ granted: boolean; reason: string | null }> {
  let caller: Caller;
  try {
    caller = await ctx.caller();
  } catch (error) {
    if (isAppError(error, "UNAUTHENTICATED")) return { granted: false, reason: error.message };
    throw error;
  }
  if (caller.kind === "operator" || (caller.kind === "consumer" && caller.address === consumer)) {
    return { granted: true, reason: null };
  }
  return {
    granted: false,
    reason:
      caller.kind === "consumer"
        ? `private to ${consumer}: an API key of ${caller.address} reads only its own`
        : `private to ${consumer}: send \`Authorization: Bearer <its API key>\` or the operator token`,
  };
}
