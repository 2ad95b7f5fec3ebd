import fc from "fast-check";
import { sql } from "kysely";
import t, { type Test } from "tap";
import { openDatabase } from "../../services/db/connection.ts";
import { createChain } from "../../services/devkit/chain.ts";
import { untilTrue } from "../../services/devkit/until.ts";
import { createLeaderElection } from "../../services/indexer/leader.ts";
import { createRpcProxy } from "../helpers/rpc-proxy.ts";
import { freshIndexRows, indexRows, migratedDatabase, startIndexer } from "./fixture.ts";
import { playHistory, type Step, stepArb } from "./history.ts";
import { kill, spawnIndexer } from "./indexer-child.ts";

const history = (seed: number) =>
  fc.sample(fc.array(stepArb, { minLength: 15, maxLength: 15 }), { numRuns: 1, seed })[0] as Step[];

/**
 * A chain with a history, and two indexers on one Postgres, each with its own connections, once one of
 * them leads and has indexed the history.
 */
async function twoReplicas(t: Test, steps: Step[]) {
  const chain = await createChain();
  t.teardown(() => chain.close());
  await playHistory(chain, steps);
  const { database, url } = await migratedDatabase(t);
  const other = await openDatabase({ url: url as string, poolSize: 3 });
  t.teardown(() => other.close());
  const a = startIndexer(t, database, chain);
  const b = startIndexer(t, other, chain);
  await untilTrue(() => a.status().leader || b.status().leader, "one of the two indexers to lead");
  const [leader, follower] = a.status().leader ? [a, b] : [b, a];
  await leader.waitForBlock();
  return { chain, database, leader, follower };
}

t.test("two indexers on one Postgres: one writes; when it is killed the other takes over", async (t) => {
  const chain = await createChain();
  t.teardown(() => chain.close());
  await playHistory(chain, history(31));
  const proxy = await createRpcProxy({ send: (method, params) => chain.provider.send(method, params) });
  t.teardown(() => proxy.close());
  const { database, url } = await migratedDatabase(t);

  const first = spawnIndexer(url as string, proxy.url, chain.deployment, 50);
  t.teardown(() => kill(first.child));
  await first.said("leader");
  const second = startIndexer(t, database, chain);
  await first.said("done");
  await untilTrue(() => second.status().indexedBlock > 0, "the second indexer to index a block");
  t.equal(second.status().leader, false, "the second replica follows while the first holds the lock");

  await playHistory(chain, history(32));
  kill(first.child);
  await first.exited;
  await untilTrue(() => second.status().leader, "the second indexer to lead");
  t.pass("the second replica took the lock after the first died");
  await second.waitForBlock(await chain.provider.getBlockNumber());
  t.same(await indexRows(database.db), await freshIndexRows(t, chain), "nothing lost or doubled");
});

t.test("stopping the leader hands the index to the other replica", async (t) => {
  const { chain, database, leader, follower } = await twoReplicas(t, history(33));
  t.equal(follower.status().leader, false, "exactly one leader");

  await leader.stop();
  await playHistory(chain, history(34));
  await untilTrue(() => follower.status().leader, "the follower to take over");
  await follower.waitForBlock(await chain.provider.getBlockNumber());
  t.same(await indexRows(database.db), await freshIndexRows(t, chain), "nothing lost or doubled");
});

t.test("a leader whose lock session is cut loses the lead, not its process; the index stays whole", async (t) => {
  const { chain, database, leader, follower } = await twoReplicas(t, history(35));

  // What a Postgres restart or a network cut does to the session that holds the lock.
  const { rows } = await sql<{ cut: boolean }>`
    select pg_terminate_backend(pid) as cut from pg_locks
    where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`.execute(
    database.db,
  );
  t.same(
    rows.map((r) => r.cut),
    [true],
    "the leader's lock session was cut",
  );
  await untilTrue(() => !leader.status().leader, "the cut leader to stop leading");
  t.pass("the leader noticed and stopped leading");
  await playHistory(chain, history(36));
  await untilTrue(() => leader.status().leader || follower.status().leader, "a leader after the cut");
  const next = leader.status().leader ? leader : follower;
  await next.waitForBlock(await chain.provider.getBlockNumber());
  t.same(await indexRows(database.db), await freshIndexRows(t, chain), "nothing lost or doubled");
});

t.test("a replica stopped while it takes the lock ends its term at once instead of leading forever", async (t) => {
  const { database } = await migratedDatabase(t);
  const election = createLeaderElection({ database, name: "stopped-while-locking", intervalMs: 50 });
  const stop = new AbortController();
  let terms = 0;
  const term = async (signal: AbortSignal) => {
    terms++;
    while (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  // Stopped before the lock's connection is even checked out: the lock is taken after the stop.
  const running = election.run(term, stop.signal);
  stop.abort();
  let ended = false;
  void running.then(() => {
    ended = true;
  });
  await untilTrue(() => ended, "the stopped replica's run to end", { timeoutMs: 5_000 });
  t.ok(terms <= 1, "at most the one term it was entering");
  t.equal(election.isLeader(), false, "it does not lead after the stop");
});
