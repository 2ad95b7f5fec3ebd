import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Upstream } from "../../services/gateway/upstream.ts";
import { type Service, startService } from "../../services/runtime/start-service.ts";
import { loadConfig } from "../../services/shared/config.ts";
import { createTestDatabase } from "./db.ts";

type Teardown = { teardown(fn: () => unknown): void };

export interface BuildOptions {
  /** "postgres" (default): a fresh database of its own on the machine's Postgres; "pglite": embedded. */
  database?: "postgres" | "pglite";
  /** More settings, as the environment gives them (RPC_URL + DEPLOYMENT_FILE to join a running chain). */
  env?: Record<string, string>;
  upstream?: Upstream;
  now?: () => number;
}

/**
 * The whole service as `npm start` runs it, on isolated real resources: its own development chain on a
 * free port (unless `env` names RPC_URL), its own database, a temporary DATA_DIR, HTTP on a free port.
 * Closed, and its resources removed, on teardown.
 */
export async function build(t: Teardown, options: BuildOptions = {}): Promise<Service> {
  const dataDir = await mkdtemp(join(tmpdir(), "commons-app-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env: Record<string, string> = {
    HOST: "127.0.0.1",
    PORT: "0",
    RPC_PORT: "0",
    DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
    POLL_INTERVAL_MS: "100",
    ...options.env,
  };
  if ((options.database ?? "postgres") === "postgres" && !env.DATABASE_URL) {
    env.DATABASE_URL = await createTestDatabase(t);
  }
  const service = await startService(loadConfig(env), {
    ...(options.upstream ? { upstream: options.upstream } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  t.teardown(() => service.close());
  return service;
}

/** Polls `check` until it returns a value other than undefined (no sleeps for synchronisation). */
export async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
