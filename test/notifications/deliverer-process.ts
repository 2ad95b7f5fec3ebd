/**
 * A delivering replica in its own process, for the test that kills it: `node --import tsx
 * test/notifications/deliverer-process.ts <databaseUrl> <lockName>`. Prints "leader" once it holds the
 * deliverer's lock, then delivers until killed.
 */
import { openDatabase } from "../../services/db/connection.ts";
import { createDeliverer } from "../../services/notifications/delivery.ts";

const [url, name] = process.argv.slice(2);
const database = await openDatabase({ url: url as string, poolSize: 4 });
const deliverer = createDeliverer({
  database,
  name: name as string,
  now: Date.now,
  mailer: null,
  targets: { allowLoopback: true, selfOrigins: [] },
  timeoutMs: 1_000,
  retryBaseMs: 50,
  retryMaxMs: 200,
  deadAfterMs: 600_000,
  concurrency: 8,
  policyUsageDays: 30,
  budgetScanMs: 1_000,
  idleMs: 100,
  leaderIntervalMs: 100,
});
deliverer.start();
const leading = setInterval(() => {
  if (deliverer.isLeader()) {
    console.log("leader");
    clearInterval(leading);
  }
}, 20);
