import closeWithGrace from "close-with-grace";
import type { Logger } from "../shared/logger.ts";

/**
 * Stops the service on SIGINT/SIGTERM (or a fatal error) by running `close`: the server stops accepting
 * connections and finishes the calls in flight, so their ledger settlement and audit records commit,
 * before the indexer and the database close. After `delayMs` the process exits regardless.
 */
export function closeOnSignals(close: () => Promise<void>, logger: Logger, delayMs = 10_000) {
  return closeWithGrace({ delay: delayMs, logger: false }, async ({ signal, err }) => {
    if (err) logger.error({ err }, "stopping after an unexpected error");
    else logger.info({ signal }, "stopping: finishing the calls in flight");
    await close();
    logger.info("stopped");
  });
}
