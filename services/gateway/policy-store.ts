import { decodeCall } from "../chain/actions.ts";
import { loadPolicyRows } from "../db/gateway-policy-rows.ts";
import { loadGovernanceRows, loadQueuedProposals } from "../db/impact-state.ts";
import { GOVERNANCE_CHANNEL, type GovernanceNotification, POLICY_CHANNEL } from "../indexer/notifications.ts";
import { governanceStateOf } from "../policy/governance-state.ts";
import { type Shadow, shadowsOf } from "../policy/shadow.ts";
import { buildSnapshot } from "../policy/snapshot.ts";
import type { PolicySnapshot, SnapshotSettings } from "../policy/types.ts";
import type { Deps } from "../shared/deps.ts";

function isProposalChange(payload: string): boolean {
  try {
    return (JSON.parse(payload) as GovernanceNotification).type === "proposal";
  } catch {
    return false;
  }
}

export interface PolicyStore {
  /** The snapshot in force (never null once started). */
  current(): PolicySnapshot;
  /** The policies of each proposal queued in the timelock, for shadow mode (policy/shadow.ts); often none. */
  shadows(): readonly Shadow[];
  /** Re-reads the index now; concurrent calls share one reload and a call during a reload gets the next. */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Each replica's in-memory copy of the policies in force, and of those each queued proposal will bring
 * (shadow mode). It reloads when the indexer announces a change on `commons_policy` or a proposal's on
 * `commons_governance` (every replica hears it at once), and on a timer as a safety net that also keeps
 * the index heartbeat (staleness) current. Shadows need the deployment to read queued calls: a gateway
 * given none (its own tests) shadows nothing.
 */
export async function createPolicyStore(
  deps: Pick<Deps, "database" | "config" | "logger"> & Partial<Pick<Deps, "deployment">>,
  options: { refreshMs?: number } = {},
): Promise<PolicyStore> {
  const { database, config, logger, deployment } = deps;
  const settings: SnapshotSettings = {
    defaultMaxTokens: config.DEFAULT_MAX_TOKENS,
    maxStalenessMs: config.MAX_POLICY_STALENESS_S * 1000,
    allowStale: config.ALLOW_STALE_POLICY,
  };
  /**
   * The policies in force and, when proposals are queued, each one's policies after it (built here, once
   * per change of the index, never per call). Without queued proposals, one read as before.
   */
  const load = async (): Promise<{ snapshot: PolicySnapshot; shadows: Shadow[] }> => {
    const queued = deployment === undefined ? [] : await loadQueuedProposals(database.db);
    if (deployment === undefined || queued.length === 0) {
      return { snapshot: buildSnapshot(await loadPolicyRows(database.db), settings), shadows: [] };
    }
    const state = governanceStateOf(await loadGovernanceRows(database.db), settings);
    const shadows = shadowsOf(
      state,
      queued.map((p) => ({
        proposalId: p.id,
        eta: p.eta,
        // Read again from the calldata, as proposalImpact does, never from a description.
        actions: p.targets.map((target, i) => decodeCall(deployment.contracts, target, p.calldatas[i] as string)),
      })),
    );
    return { snapshot: state.policies, shadows };
  };
  let { snapshot, shadows } = await load();
  let running: Promise<void> | null = null;
  let again = false;

  const reload = async () => {
    do {
      again = false;
      ({ snapshot, shadows } = await load());
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
  // A proposal queued, executed or canceled changes what is shadowed (votes change nothing of it).
  const unlistenGovernance = await database.listen(
    GOVERNANCE_CHANNEL,
    (payload) => {
      if (isProposalChange(payload)) void refreshQuietly();
    },
    () => void refreshQuietly(),
  );
  // A quarter of the staleness bound, so that a live indexer never looks stale between timer ticks.
  const every = options.refreshMs ?? Math.min(5_000, settings.maxStalenessMs / 4);
  const timer = setInterval(() => void refreshQuietly(), every);
  timer.unref();

  return {
    current: () => snapshot,
    shadows: () => shadows,
    refresh,
    async stop() {
      clearInterval(timer);
      await unlisten();
      await unlistenGovernance();
      await running?.catch(() => {});
    },
  };
}
