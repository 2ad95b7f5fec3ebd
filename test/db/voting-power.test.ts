import t, { type Test } from "tap";
import { type DatabaseHandle, openDatabase } from "../../services/db/connection.ts";
import { migrateToLatest } from "../../services/db/migrate.ts";
import { HEAD_SETTLE_MARGIN_S, pastVotes, settledVotesAt } from "../../services/db/voting-power.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";

const ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const T = 1_800_000_000;

async function databases(t: Test): Promise<[string, DatabaseHandle][]> {
  const postgres = await openDatabase({ url: await createTestDatabase(t) });
  const pglite = await openDatabase({});
  t.teardown(async () => {
    await postgres.close();
    await pglite.close();
  });
  for (const d of [postgres, pglite]) await migrateToLatest(d.db);
  return [
    ["postgres", postgres],
    ["pglite", pglite],
  ];
}

/** Alice's history: 5 tokens after block 10 (time T), 7 after block 12 (T + 20). */
async function seed(database: DatabaseHandle) {
  const row = (block_number: number, block_time: number | null, voting_power: string) => ({
    address: ALICE,
    block_number,
    block_time,
    balance: voting_power,
    delegate: ALICE,
    voting_power,
    delegators: 1,
  });
  await database.db
    .insertInto("account_history")
    .values([row(3, null, "1"), row(10, T, "5"), row(12, T + 20, "7")])
    .execute();
}

async function checkpoint(
  database: DatabaseHandle,
  at: { block: number; time: number; head: number; updatedAt: Date },
) {
  const values = {
    block_number: at.block,
    block_hash: "0xb",
    block_time: at.time,
    head_block: at.head,
    updated_at: at.updatedAt,
  };
  await database.db
    .insertInto("indexer_checkpoint")
    .values({ id: "governance", chain_id: 31337, total_supply: "0", ...values })
    .onConflict((oc) => oc.column("id").doUpdateSet(values))
    .execute();
}

t.test("voting power at a time is the last change stamped at or before it, as getPastVotes reads", async (t) => {
  for (const [name, database] of await databases(t)) {
    await seed(database);
    await checkpoint(database, { block: 12, time: T + 20, head: 12, updatedAt: new Date((T + 100) * 1000) });
    const at = async (time: number) => (await pastVotes(database.db, ALICE, time)).votes;
    t.equal(await at(T - 1), 0n, `${name}: before any timed change (a row without a time is never read)`);
    t.equal(await at(T), 5n, `${name}: the change's own second counts`);
    t.equal(await at(T + 19), 5n, name);
    t.equal(await at(T + 20), 7n, name);
    t.equal((await pastVotes(database.db, "0x0000000000000000000000000000000000000001", T + 20)).votes, 0n);
  }
});

t.test("a value is settled once the index holds a later block, or stood at the head well after it", async (t) => {
  for (const [name, database] of await databases(t)) {
    await seed(database);
    const settled = async (time: number, at: Parameters<typeof checkpoint>[1]) => {
      await checkpoint(database, at);
      return (await pastVotes(database.db, ALICE, time)).settled;
    };
    const late = (seconds: number) => new Date((T + 20 + seconds) * 1000);
    t.equal(
      await settled(T + 19, { block: 12, time: T + 20, head: 15, updatedAt: late(0) }),
      true,
      `${name}: a later block`,
    );
    t.equal(
      await settled(T + 20, { block: 12, time: T + 20, head: 15, updatedAt: late(3600) }),
      false,
      `${name}: behind the head, a block stamped at that second may still come`,
    );
    t.equal(
      await settled(T + 20, { block: 12, time: T + 20, head: 12, updatedAt: late(HEAD_SETTLE_MARGIN_S + 1) }),
      true,
      `${name}: at the head of a quiet chain, past the margin`,
    );
    t.equal(
      await settled(T + 20, { block: 12, time: T + 20, head: 12, updatedAt: late(HEAD_SETTLE_MARGIN_S - 1) }),
      false,
      `${name}: at the head, but within the margin`,
    );
    t.same(await settledVotesAt(database.db, ALICE, T + 20), null, `${name}: unsettled is no standing`);
    await checkpoint(database, { block: 13, time: T + 21, head: 13, updatedAt: late(1) });
    t.same(await settledVotesAt(database.db, ALICE, T + 20), { epochStart: T + 20, votes: 7n }, name);
  }
});
