import type { AbstractProvider, Wallet } from "ethers";
import Fastify, { type FastifyInstance } from "fastify";
import apiPlugin from "../../services/api/plugin.ts";
import type { TypedDocument } from "../../services/cli/graphql-client.ts";
import { type DatabaseHandle, openDatabase } from "../../services/db/connection.ts";
import { migrateToLatest } from "../../services/db/migrate.ts";
import { type Chain, createChain } from "../../services/devkit/chain.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { createIndexer, type Indexer } from "../../services/indexer/indexer.ts";
import { loadConfig } from "../../services/shared/config.ts";
import type { Deps } from "../../services/shared/deps.ts";
import { createLogger } from "../../services/shared/logger.ts";
import { createMetrics } from "../../services/shared/metrics.ts";

type Teardown = { teardown(fn: () => unknown): void };

export const TEST_SIWE_DOMAIN = "commons.test";
export const TEST_OPERATOR_TOKEN = "operator-token-for-tests-only";

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data: T | null;
  errors?: { message: string; path?: string[]; extensions: { code: string; [k: string]: unknown } }[];
}

export interface ApiFixture {
  app: FastifyInstance;
  chain: Chain;
  database: DatabaseHandle;
  deps: Deps;
  indexer: Indexer;
  /** POST /graphql through fastify's inject (the full HTTP pipeline, no socket). */
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse<T>>;
  /** Waits until the index has caught up with the chain's head. */
  synced(): Promise<void>;
}

/**
 * The API plugin alone on a fastify app, over a fresh in-process chain, a fresh Postgres database and a
 * running indexer. Everything is closed on teardown.
 */
export async function createApiFixture(
  t: Teardown,
  options: {
    env?: Record<string, string>;
    relayer?: Wallet;
    listen?: boolean;
    chain?: Chain;
    now?: () => number;
  } = {},
): Promise<ApiFixture> {
  const chain = options.chain ?? (await createChain());
  if (!options.chain) t.teardown(() => chain.close());
  const database = await openDatabase({ url: await createTestDatabase(t), poolSize: 5 });
  t.teardown(() => database.close());
  await migrateToLatest(database.db);
  const indexer = createIndexer({
    database,
    provider: chain.provider,
    deployment: chain.deployment,
    pollIntervalMs: 20,
    leaderIntervalMs: 200,
  });
  await indexer.start();
  t.teardown(() => indexer.stop());

  const config = loadConfig({
    LOG_LEVEL: "silent",
    SIWE_DOMAIN: TEST_SIWE_DOMAIN,
    OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
    ...options.env,
  });
  const deps: Deps = {
    config,
    logger: createLogger("silent"),
    database,
    // Hardhat's ethers provider implements the ethers Provider API the API uses (calls, broadcasts).
    provider: chain.provider as unknown as AbstractProvider,
    deployment: chain.deployment,
    metrics: createMetrics(),
    now: options.now ?? Date.now,
  };
  const app = Fastify({ logger: false });
  await app.register(apiPlugin, { deps, ...(options.relayer ? { relayer: options.relayer } : {}) });
  if (options.listen) await app.listen({ port: 0, host: "127.0.0.1" });
  else await app.ready();
  t.teardown(() => app.close());

  return {
    app,
    chain,
    database,
    deps,
    indexer,
    async gql(query, variables, headers) {
      const response = await app.inject({
        method: "POST",
        url: "/graphql",
        headers: { "content-type": "application/json", ...headers },
        payload: JSON.stringify({ query, variables }),
      });
      return { status: response.statusCode, ...response.json() };
    },
    synced: () => indexer.waitForBlock(),
  };
}

/** The data of a response that must have succeeded; fails loudly with the errors otherwise. */
export function dataOf<T>(response: GraphQLResponse<T>): T {
  if (response.errors?.length || response.data === null) {
    throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
  }
  return response.data;
}

/** The extensions.code of each error of a response. */
export function codesOf(response: GraphQLResponse): string[] {
  return (response.errors ?? []).map((e) => e.extensions.code);
}

/**
 * A document a test writes on the spot, typed by the test (the CLI's client takes typed documents only;
 * the code generator types the CLI's, the demo's and the web app's own).
 */
export function adHoc<TResult, TVariables = Record<string, never>>(text: string): TypedDocument<TResult, TVariables> {
  return { toString: () => text } as TypedDocument<TResult, TVariables>;
}
