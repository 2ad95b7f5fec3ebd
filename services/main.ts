/**
 * `npm start`: the service from the environment (see README's configuration table). A bad setting is
 * named and the process exits 1 before anything starts.
 */
import pretty from "pino-pretty";
import { closeOnSignals } from "./ops/shutdown.ts";
import { describeService } from "./runtime/banner.ts";
import { startService } from "./runtime/start-service.ts";
import { type Config, loadConfig } from "./shared/config.ts";
import { createLogger } from "./shared/logger.ts";

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}

// A person at a terminal reads logs as lines; anything else (a container, a file) gets JSON lines.
const logger = createLogger(
  config.LOG_LEVEL,
  process.stdout.isTTY ? pretty({ colorize: true, ignore: "pid,hostname", translateTime: "HH:MM:ss" }) : undefined,
);
try {
  const service = await startService(config, { logger });
  closeOnSignals(() => service.close(), logger);
  console.log(describeService(service));
} catch (error) {
  logger.error({ err: error }, "the service could not start");
  console.error(`Could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
