import Fastify from "fastify";
import type { KyselyPlugin } from "kysely";
import t from "tap";
import apiPlugin from "../../services/api/plugin.ts";
import { createApiFixture } from "../helpers/graphql.ts";

/** Counts the SQL statements a request runs, on the fixture's real database connection. */
function statementCounter() {
  const counter = {
    count: 0,
    plugin: {
      transformQuery(args) {
        counter.count++;
        return args.node;
      },
      async transformResult(args) {
        return args.result;
      },
    } satisfies KyselyPlugin,
  };
  return counter;
}

t.test(
  "a page of proposals with states, tallies, histories and votes costs the same SQL whatever its size",
  async (t) => {
    const api = await createApiFixture(t);
    const db = api.database.db;
    const ids = Array.from({ length: 30 }, (_, i) => String(10n ** 30n + BigInt(i)));
    await db
      .insertInto("proposals")
      .values(
        ids.map((id, i) => ({
          id,
          proposer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
          description: `p${i}`,
          description_hash: `0x${"00".repeat(32)}`,
          targets: JSON.stringify([]),
          values: JSON.stringify([]),
          calldatas: JSON.stringify([]),
          operation_id: `0x${i.toString(16).padStart(64, "0")}`,
          actions: JSON.stringify([]),
          kinds: ["SET_MODEL_POLICY"],
          vote_start: 1,
          vote_end: 2,
          eta: null,
          status: "PENDING" as const,
          for_votes: "3",
          against_votes: "0",
          abstain_votes: "0",
          vote_count: 3,
          quorum: "1",
          created_block: 1_000_000 + i,
          created_time: 1_000_000 + i,
          created_tx: `0x${"11".repeat(32)}`,
          created_log_index: 0,
          updated_block: 1_000_000 + i,
        })),
      )
      .execute();
    await db
      .insertInto("proposal_events")
      .values(
        ids.map((id, i) => ({
          proposal_id: id,
          event: "CREATED",
          block_number: 1_000_000 + i,
          block_time: 1_000_000 + i,
          tx_hash: `0x${"11".repeat(32)}`,
          log_index: 0,
          data: JSON.stringify({}),
        })),
      )
      .execute();
    await db
      .insertInto("votes")
      .values(
        ids.flatMap((id, i) =>
          [1, 2, 3].map((v) => ({
            proposal_id: id,
            voter: `0x${v.toString(16).padStart(40, "0")}`,
            support: 1,
            weight: "1",
            reason: "",
            block_number: 1_000_000 + i,
            block_time: 1_000_000 + i,
            tx_hash: `0x${"22".repeat(32)}`,
            log_index: v,
          })),
        ),
      )
      .execute();

    const counter = statementCounter();
    const app = Fastify({ logger: false });
    await app.register(apiPlugin, {
      deps: { ...api.deps, database: { ...api.database, db: db.withPlugin(counter.plugin) } },
    });
    t.teardown(() => app.close());
    const page = async (first: number) => {
      counter.count = 0;
      const response = await app.inject({
        method: "POST",
        url: "/graphql",
        payload: {
          query: `query($first: Int!) { proposals(first: $first) { totalCount edges { node {
          id state tally { for quorumReached } history { event }
          votes(first: 2) { totalCount edges { node { voter weight } } }
          forVotes: votes(first: 2, support: FOR) { totalCount }
        } } } }`,
          variables: { first },
        },
      });
      const body = response.json();
      t.equal(body.errors, undefined);
      t.equal(body.data.proposals.edges.length, first);
      t.equal(body.data.proposals.edges[0].node.votes.edges.length, 2);
      t.equal(body.data.proposals.edges[0].node.forVotes.totalCount, 3);
      return counter.count;
    };
    const small = await page(2);
    const large = await page(25);
    t.equal(large, small, `${small} statements for 2 proposals, ${large} for 25`);
    t.ok(
      small <= 7,
      `a page costs ${small} statements: page, count, clock, histories, votes ×2 shapes, support counts`,
    );
  },
);
