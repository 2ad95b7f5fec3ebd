/**
 * Notifications: (1) events delivered per second by the leader to a local webhook receiver, and (2) the
 * indexer's catch-up rate with the outbox written in its range transactions against without, on the same
 * history (votes over many proposals, as bench/indexer.bench.ts builds it), indexed into fresh databases.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { JsonRpcProvider } from "ethers";
import type { Kysely } from "kysely";
import type { Database } from "../services/db/schema.ts";
import { startHardhatNode } from "../services/devkit/hardhat-node.ts";
import { createIndexer } from "../services/indexer/indexer.ts";
import { createDeliverer } from "../services/notifications/delivery.ts";
import type { EventDraft } from "../services/notifications/events.ts";
import { createIndexOutbox, writeEvents } from "../services/notifications/outbox.ts";
import { newWebhookSecret } from "../services/notifications/webhook.ts";
import { type BenchRow, runBench } from "./harness.ts";
import { createBenchDatabase, holdersDeployed, propose, rpcBatcher, sendAndMine, votes } from "./indexer.bench.ts";

const EVENTS = 20_000;
/** Proposals the delivered events are spread over: each is a lane, sent in order; lanes go in parallel. */
const LANES = 200;
const TARGET_DELIVERED_PER_SECOND = 2_000;
const VOTERS = 100;
const PROPOSALS = 40;
const TARGET_RATIO = 0.9;
/** Catch-up runs each way, alternated; the best of each is compared (the machine is shared). */
const RUNS = 3;

export default async function notificationsBench() {
  return runBench("notifications", async (log) => {
    const delivery = await deliveryRate(log);
    const catchUp = await catchUpRatio(log);
    const rows: BenchRow[] = [
      {
        metric: "webhook deliveries",
        value: delivery.perSecond,
        unit: "events/s",
        target: `>= ${TARGET_DELIVERED_PER_SECOND}`,
        met: delivery.perSecond >= TARGET_DELIVERED_PER_SECOND,
      },
      { metric: "delivered", value: delivery.delivered, unit: "events" },
      { metric: "catch-up, notifications off", value: catchUp.off, unit: "votes/s" },
      { metric: "catch-up, notifications on", value: catchUp.on, unit: "votes/s" },
      {
        metric: "catch-up on / off",
        value: catchUp.on / catchUp.off,
        unit: "ratio",
        target: `>= ${TARGET_RATIO}`,
        met: catchUp.on / catchUp.off >= TARGET_RATIO,
      },
    ];
    return {
      rows,
      notes: [
        `delivery: ${EVENTS} events over ${LANES} proposals to one subscription; the receiver (same process) answers 204 without verifying; signing, HTTP and the delivery bookkeeping in Postgres are all in the figure`,
        `catch-up: ${VOTERS} voters x ${PROPOSALS} proposals on \`hardhat node\`; with notifications on, one subscription follows ${VOTERS / 10} of the voters; each run indexes the whole history into a fresh database; the best of ${RUNS} runs each, alternated`,
      ],
    };
  });
}

/** A webhook subscription straight in the database (the bench measures delivery, not the API). */
async function subscribe(db: Kysely<Database>, url: string, delegates: string[] | null) {
  await db
    .insertInto("notification_subscriptions")
    .values({
      id: `sub_${randomUUID()}`,
      owner: "0x0000000000000000000000000000000000000001",
      channel: "webhook",
      target: url,
      secret: newWebhookSecret(),
      previous_secret: null,
      previous_secret_until: null,
      event_types: null,
      proposal_ids: null,
      models: null,
      delegates,
      verified: true,
      created_at: new Date(),
    })
    .execute();
}

async function deliveryRate(log: (line: string) => void) {
  let received = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      received++;
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const database = await createBenchDatabase();
  try {
    await subscribe(database.db, url, null);
    const drafts: EventDraft[] = Array.from({ length: EVENTS }, (_, i) => ({
      type: "proposal.created",
      dedupeKey: `bench:${i}`,
      proposalId: String(i % LANES),
      actor: null,
      recipient: null,
      models: null,
      block: i,
      time: Math.floor(Date.now() / 1000),
      data: { proposalId: String(i % LANES), title: `Bench proposal ${i}` },
    }));
    await writeEvents(database.db, drafts);
    const deliverer = createDeliverer({
      database,
      name: "bench-notifications",
      now: Date.now,
      mailer: null,
      targets: { allowLoopback: true, selfOrigins: [] },
      timeoutMs: 10_000,
      retryBaseMs: 1_000,
      retryMaxMs: 60_000,
      deadAfterMs: 86_400_000,
      concurrency: 64,
      policyUsageDays: 30,
      budgetScanMs: 60_000,
      idleMs: 50,
    });
    const started = performance.now();
    deliverer.start();
    const count = async () =>
      Number(
        (
          await database.db
            .selectFrom("notification_deliveries")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .where("status", "=", "delivered")
            .executeTakeFirstOrThrow()
        ).n,
      );
    while ((await count()) < EVENTS) await new Promise((resolve) => setTimeout(resolve, 50));
    const seconds = (performance.now() - started) / 1000;
    await deliverer.stop();
    log(`delivered ${EVENTS} events in ${seconds.toFixed(2)}s (${received} requests)`);
    return { perSecond: EVENTS / seconds, delivered: EVENTS };
  } finally {
    await database.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function catchUpRatio(log: (line: string) => void) {
  const node = await startHardhatNode();
  const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true });
  try {
    const batch = rpcBatcher(node.url);
    const { deployment, proposer, voters } = await holdersDeployed(provider, batch, VOTERS);
    const proposals = await propose(batch, deployment, proposer, PROPOSALS);
    await batch([
      { method: "evm_increaseTime", params: [5] },
      { method: "evm_mine", params: [] },
    ]);
    await sendAndMine(batch, votes(deployment, proposals, voters));
    const head = await provider.getBlockNumber();

    const run = async (notifications: boolean) => {
      const database = await createBenchDatabase();
      try {
        // A subscriber who follows a tenth of the voters: their votes are events, the others' are not.
        if (notifications) await subscribe(database.db, "http://127.0.0.1:9/unused", voters.slice(0, VOTERS / 10));
        const indexer = createIndexer({
          database,
          provider,
          deployment,
          pollIntervalMs: 50,
          maxRange: 10,
          ...(notifications ? { outbox: createIndexOutbox({ endingWithinS: 3600 }) } : {}),
        });
        const started = performance.now();
        await indexer.start();
        await indexer.waitForBlock(head);
        const seconds = (performance.now() - started) / 1000;
        await indexer.stop();
        const events = Number(
          (
            await database.db
              .selectFrom("votes")
              .select((eb) => eb.fn.countAll<number>().as("n"))
              .executeTakeFirstOrThrow()
          ).n,
        );
        log(`notifications ${notifications ? "on" : "off"}: ${events} votes in ${seconds.toFixed(2)}s`);
        return events / seconds;
      } finally {
        await database.close();
      }
    };
    const off: number[] = [];
    const on: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      off.push(await run(false));
      on.push(await run(true));
    }
    return { off: Math.max(...off), on: Math.max(...on) };
  } finally {
    node.stop();
  }
}
