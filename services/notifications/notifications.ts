import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors.ts";
import { createDeliverer, type Deliverer } from "./delivery.ts";
import { createMailer, type Mailer } from "./email.ts";
import { createIndexOutbox, type IndexOutbox } from "./outbox.ts";
import { createSubscriptions, type Subscriptions } from "./subscriptions.ts";
import type { TargetRules } from "./targets.ts";

export interface Notifications {
  outbox: IndexOutbox;
  subscriptions: Subscriptions;
  deliverer: Deliverer;
  /** Called once the service listens: its own URL is refused as a webhook and names the email links. */
  listening(url: string): void;
  close(): Promise<void>;
}

/** The notifications of one replica: the outbox the indexer writes, subscription management, and the leader's deliverer. */
export function createNotifications(deps: Deps): Notifications {
  const { config } = deps;
  let ownUrl = `http://${config.HOST}:${config.PORT}`;
  const publicUrl = () => (config.PUBLIC_URL ?? ownUrl).replace(/\/$/, "");
  const targets = (): TargetRules => ({
    allowLoopback: config.NOTIFY_ALLOW_LOOPBACK,
    selfOrigins: [ownUrl, ...(config.PUBLIC_URL ? [config.PUBLIC_URL] : [])],
  });
  const mailer: Mailer | null = config.SMTP_URL
    ? createMailer({ smtpUrl: config.SMTP_URL, from: config.SMTP_FROM, publicUrl, timeoutMs: config.NOTIFY_TIMEOUT_MS })
    : null;
  const deliverer = createDeliverer({
    database: deps.database,
    name: `commons-notifications:${deps.deployment.chainId}:${deps.deployment.contracts.governor}`,
    logger: deps.logger.child({ component: "notifications" }),
    now: deps.now,
    mailer,
    metrics: deps.metrics,
    get targets() {
      return targets();
    },
    timeoutMs: config.NOTIFY_TIMEOUT_MS,
    retryBaseMs: config.NOTIFY_RETRY_BASE_MS,
    retryMaxMs: config.NOTIFY_RETRY_MAX_MS,
    deadAfterMs: config.NOTIFY_DEAD_AFTER_MS,
    concurrency: config.NOTIFY_CONCURRENCY,
    policyUsageDays: config.NOTIFY_POLICY_USAGE_DAYS,
    budgetScanMs: config.NOTIFY_BUDGET_SCAN_MS,
    idleMs: config.POLL_INTERVAL_MS,
    leaderIntervalMs: config.POLL_INTERVAL_MS,
  });
  return {
    outbox: createIndexOutbox({ endingWithinS: config.NOTIFY_VOTING_ENDS_WITHIN_S }),
    subscriptions: createSubscriptions({
      database: deps.database,
      targets,
      mailer,
      maxPerOwner: config.NOTIFY_SUBSCRIPTIONS_PER_OWNER,
      confirmationsPerAddress: config.NOTIFY_CONFIRMATIONS_PER_ADDRESS,
      confirmationsPerOwner: config.NOTIFY_CONFIRMATIONS_PER_OWNER,
      chainHead: () =>
        deps.provider.getBlockNumber().catch((cause: unknown) => {
          throw new AppError("RPC_ERROR", "cannot read the chain head from the RPC endpoint: try again", { cause });
        }),
      now: deps.now,
    }),
    deliverer,
    listening(url) {
      ownUrl = url;
      deliverer.start();
    },
    close: () => deliverer.stop(),
  };
}
