import type { AbstractProvider } from "ethers";
import type { Deployment } from "../chain/deployment.ts";
import type { DatabaseHandle } from "../db/connection.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";

/**
 * The dependency bag: everything a part of the service needs from the outside, passed in as one
 * object (ponder's createX(deps) shape), so that tests can hand any part real, isolated resources.
 */
export interface Deps {
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  provider: AbstractProvider;
  deployment: Deployment;
  metrics: Metrics;
  /** Unix milliseconds; injectable so that tests can move time. */
  now: () => number;
}
