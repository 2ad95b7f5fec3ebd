/**
 * The web app's first page on the local service: how long after navigation starts the Proposals page
 * is usable (20 proposals listed with their tallies), in a fresh headless chromium context each time
 * (nothing cached), and what the browser downloads for it (gzip). Needs Debian's chromium.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { chromium } from "playwright-core";
import { send } from "../services/cli/chain-actions.ts";
import { createGraphqlClient } from "../services/cli/graphql-client.ts";
import { DRAFT_PROPOSAL, SYNC_STATUS } from "../services/cli/operations.ts";
import { browserMissing, chromiumArgs, chromiumPath } from "../services/devkit/chromium.ts";
import { startService } from "../services/runtime/start-service.ts";
import { loadConfig } from "../services/shared/config.ts";
import { bundleSizes } from "../services/web/bundle-sizes.ts";
import { percentile, runBench } from "./harness.ts";

const PROPOSALS = 20;
const LOADS = 15;
const TARGET_MS = 1000;

export default async function webBench() {
  return runBench("web", async (log) => {
    const missing = browserMissing();
    if (missing) return { rows: [], notes: [`not run: ${missing}`] };
    const dataDir = await mkdtemp(join(tmpdir(), "commons-web-bench-"));
    const service = await startService(
      loadConfig({ PORT: "0", RPC_PORT: "0", DATA_DIR: dataDir, LOG_LEVEL: "warn", POLL_INTERVAL_MS: "100" }),
    );
    const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    try {
      const api = createGraphqlClient(service.urls.http);
      const holder = service.devChain?.holders[0];
      if (!holder) throw new Error("the service has no development holder");
      const proposer = new Wallet(holder.privateKey, service.deps.provider);
      log(`proposing ${PROPOSALS} proposals`);
      let lastBlock = 0;
      for (let i = 0; i < PROPOSALS; i++) {
        const { draftProposal } = await api.request(DRAFT_PROPOSAL, {
          input: {
            description: `Bench proposal ${i}`,
            actions: [{ suspendModel: { modelId: `bench-${i}`, reason: "benchmark" } }],
          },
        });
        const { to, data } = draftProposal.transaction;
        lastBlock = (await send("proposing", () => proposer.sendTransaction({ to, data }))).blockNumber;
      }
      while ((await api.request(SYNC_STATUS)).syncStatus.indexedBlock < lastBlock) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const times: number[] = [];
      for (let i = 0; i < LOADS; i++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(service.urls.http, { waitUntil: "commit" });
        await page
          .getByTestId("proposal-card")
          .nth(PROPOSALS - 1)
          .waitFor();
        times.push(await page.evaluate(() => performance.now()));
        await context.close();
      }
      const sizes = await bundleSizes();
      const p50 = percentile(times, 50);
      const p95 = percentile(times, 95);
      return {
        rows: [
          { metric: "first page usable, p50", value: p50, unit: "ms", target: `≤ ${TARGET_MS}`, met: p50 <= TARGET_MS },
          { metric: "first page usable, p95", value: p95, unit: "ms", target: `≤ ${TARGET_MS}`, met: p95 <= TARGET_MS },
          { metric: "first page download (gzip)", value: sizes.firstPage / 1024, unit: "kB" },
          { metric: "all assets (gzip)", value: sizes.all / 1024, unit: "kB" },
        ],
        notes: [
          `${LOADS} loads, each in a fresh browser context (no cache), ${PROPOSALS} proposals listed`,
          "usable: the last proposal card is drawn, measured from navigation start (performance.now())",
        ],
      };
    } finally {
      await browser.close();
      await service.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}
