import { loadPolicyRows } from "../db/gateway-policy-rows.ts";
import { POLICY_CHANNEL } from "../indexer/notifications.ts";
import { buildSnapshot } from "../policy/snapshot.ts";
import type { PolicySnapshot, SnapshotSettings } from "../policy/types.ts";
import type { Deps } from "../shared/deps.ts";

export interface PolicyStore {
  /** The snapshot in force (never null once started). */
  current(): PolicySnapshot;
  /** Re-reads the index now; concurrent calls share one reload and a call during a reload gets the next. */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Each replica's in-memory copy of the policies in force. It reloads when the indexer announces a
 * change on `commons_policy` (every replica hears it at once), and on a timer as a safety net that also
 * keeps the index heartbeat (staleness) current.
 */
export async function createPolicyStore(
  deps: Pick<Deps, "database" | "config" | "logger">,
  options: { refreshMs?: number } = {},
): Promise<PolicyStore> {
  const { database, config, logger } = deps;
  const settings: SnapshotSettings = {
    defaultMaxTokens: config.DEFAULT_MAX_TOKENS,
    maxStalenessMs: config.MAX_POLICY_STALENESS_S * 1000,
    allowStale: config.ALLOW_STALE_POLICY,
  };
  let snapshot = buildSnapshot(await loadPolicyRows(database.db), settings);
  let running: Promise<void> | null = null;
  let again = false;

  const reload = async () => {
    do {
      again = false;
      snapshot = buildSnapshot(await loadPolicyRows(database.db), settings);
    } while (again);
  };
  const refresh = () => {
    if (running) {
      again = true;
      return running;
    }
    running = reload().finally(() => {
      running = null;
    });
    return running;
  };
  const refreshQuietly = () =>
    refresh().catch((error: unknown) =>
      logger.warn({ err: error }, "policy snapshot refresh failed; keeping the last one"),
    );

  // A change, or a reconnected listener that may have missed one: reload either way.
  const unlisten = await database.listen(
    POLICY_CHANNEL,
    () => void refreshQuietly(),
    () => void refreshQuietly(),
  );
  // A quarter of the staleness bound, so that a live indexer never looks stale between timer ticks.
  const every = options.refreshMs ?? Math.min(5_000, settings.maxStalenessMs / 4);
  const timer = setInterval(() => void refreshQuietly(), every);
  timer.unref();

  return {
    current: () => snapshot,
    refresh,
    async stop() {
      clearInterval(timer);
      await unlisten();
      await running?.catch(() => {});
    },
  };
}
