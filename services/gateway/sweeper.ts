import { LEDGER_RETRY_MS, sweepLedger } from "../db/ledger/client.ts";
import type { GatewayDeps } from "./plugin.ts";

/**
 * Every replica sweeps the ledger on a timer (gateway_sweep): the leases of replicas that died or lost
 * their database are reclaimed once expired, and audit records whose settlement never came are charged
 * their worst case. A record is left PENDING that long only when its settlement is lost: a JSON call is
 * answered within the upstream's timeout, and its settlement retried within LEDGER_RETRY_MS.
 */
export function startLedgerSweeper(deps: Pick<GatewayDeps, "config" | "database" | "logger">): () => Promise<void> {
  const pendingAfterMs = deps.config.UPSTREAM_TIMEOUT_MS + LEDGER_RETRY_MS;
  let sweeping: Promise<void> | null = null;
  const sweep = () => {
    sweeping ??= sweepLedger(deps.database.db, pendingAfterMs)
      .then(
        (swept) => {
          if (swept.leases > 0 || swept.records > 0)
            deps.logger.info(swept, "swept expired leases and lost settlements");
        },
        (error: unknown) => deps.logger.warn({ err: error }, "sweeping the ledger failed"),
      )
      .finally(() => {
        sweeping = null;
      });
  };
  const timer = setInterval(sweep, Math.min(5_000, deps.config.LEASE_TTL_MS));
  timer.unref();
  return async () => {
    clearInterval(timer);
    await sweeping;
  };
}
