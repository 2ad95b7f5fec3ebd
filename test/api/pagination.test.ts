import fc from "fast-check";
import t from "tap";
import { createApiFixture, dataOf } from "../helpers/graphql.ts";

/**
 * Keyset pagination: paging through a list while rows are added anywhere in its order never shows a
 * row twice, never skips a row that was there when paging began, and keeps the list's order.
 */
// Each property run pages through its list a request per page (some 50 pages at the smallest page size,
// 30 runs in each of two tests): more than the API's default 600 requests a minute per caller, which is
// not what this file tests.
const api = await createApiFixture(t, { env: { API_RATE_LIMIT_PER_MINUTE: "100000" } });
const db = api.database.db;

function proposalRow(n: number, block: number, logIndex: number) {
  const id = String(10n ** 30n + BigInt(n));
  return {
    id,
    proposer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    description: `p${n}`,
    description_hash: `0x${"00".repeat(32)}`,
    targets: JSON.stringify([]),
    values: JSON.stringify([]),
    calldatas: JSON.stringify([]),
    operation_id: `0x${n.toString(16).padStart(64, "0")}`,
    actions: JSON.stringify([]),
    kinds: n % 2 === 0 ? ["SET_MODEL_POLICY"] : ["GRANT_ALLOCATION"],
    vote_start: 1,
    vote_end: 2,
    eta: null,
    status: "PENDING" as const,
    for_votes: "0",
    against_votes: "0",
    abstain_votes: "0",
    quorum: "0",
    created_block: 1_000_000 + block,
    created_time: 1_000_000 + block,
    created_tx: `0x${"11".repeat(32)}`,
    created_log_index: logIndex,
    updated_block: 1_000_000 + block,
  };
}

interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}
interface ProposalPage {
  proposals: { pageInfo: PageInfo; edges: { node: { id: string; created: { blockNumber: number } } }[] };
}
interface DelegatePage {
  delegates: { pageInfo: PageInfo; edges: { node: { address: string; votingPower: string } }[] };
}

const position = fc.record({ block: fc.integer({ min: 0, max: 40 }), logIndex: fc.integer({ min: 0, max: 3 }) });

t.test("proposals: no item skipped or repeated across pages while rows are added", async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(position, { minLength: 0, maxLength: 25, selector: (p) => `${p.block}:${p.logIndex}` }),
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.array(position, { maxLength: 3 }), { maxLength: 10 }),
      fc.constantFrom(undefined, "SET_MODEL_POLICY"),
      async (initial, pageSize, additions, kind) => {
        await db.deleteFrom("proposals").where("created_block", ">=", 1_000_000).execute();
        const taken = new Set<string>();
        let n = 0;
        const insert = async (rows: { block: number; logIndex: number }[]) => {
          const fresh = rows.filter((p) => !taken.has(`${p.block}:${p.logIndex}`));
          for (const p of fresh) taken.add(`${p.block}:${p.logIndex}`);
          if (fresh.length === 0) return [];
          const values = fresh.map((p) => proposalRow(n++, p.block, p.logIndex));
          await db.insertInto("proposals").values(values).execute();
          return values;
        };
        const before = await insert(initial);
        const expected = before.filter((r) => kind === undefined || r.kinds.includes(kind)).map((r) => r.id);

        const seen: { id: string; block: number; logIndex: number }[] = [];
        let after: string | null = null;
        for (let page = 0; ; page++) {
          const response: ProposalPage = dataOf(
            await api.gql<ProposalPage>(
              `query($first: Int!, $after: String, $kind: [ActionKind!]) {
                proposals(first: $first, after: $after, filter: { kind: $kind }) {
                  totalCount pageInfo { hasNextPage endCursor }
                  edges { cursor node { id created { blockNumber } } } } }`,
              { first: pageSize, after, kind: kind ? [kind] : null },
            ),
          );
          const { edges, pageInfo } = response.proposals;
          t.ok(edges.length <= pageSize);
          for (const e of edges) {
            const row = await db
              .selectFrom("proposals")
              .select(["created_log_index"])
              .where("id", "=", e.node.id)
              .executeTakeFirstOrThrow();
            seen.push({ id: e.node.id, block: e.node.created.blockNumber, logIndex: row.created_log_index });
          }
          if (!pageInfo.hasNextPage) break;
          after = pageInfo.endCursor;
          await insert(additions[page] ?? []);
        }
        const ids = seen.map((s) => s.id);
        if (new Set(ids).size !== ids.length) throw new Error(`a proposal was repeated: ${ids}`);
        const missing = expected.filter((id) => !ids.includes(id));
        if (missing.length > 0) throw new Error(`proposals skipped: ${missing}`);
        for (let i = 1; i < seen.length; i++) {
          const a = seen[i - 1] as (typeof seen)[number];
          const b = seen[i] as (typeof seen)[number];
          if (a.block < b.block || (a.block === b.block && a.logIndex <= b.logIndex)) {
            throw new Error("proposals are not newest first");
          }
        }
      },
    ),
    { numRuns: 30 },
  );
});

t.test("delegates: ties in voting power page by address without skipping or repeating", async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 20, maxLength: 20 }),
      fc.integer({ min: 1, max: 5 }),
      fc.array(
        fc.array(fc.record({ n: fc.integer({ min: 10_001, max: 20_000 }), power: fc.integer({ min: 0, max: 4 }) }), {
          maxLength: 3,
        }),
        {
          maxLength: 10,
        },
      ),
      async (accounts, powers, pageSize, additions) => {
        await db.deleteFrom("accounts").where("updated_block", "=", -1).execute();
        const address = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;
        const row = (n: number, power: number) => ({
          address: address(n),
          balance: "0",
          delegate: null,
          voting_power: String(BigInt(power) * 10n ** 24n + 1n),
          delegators: 1,
          updated_block: -1,
        });
        if (accounts.length > 0) {
          await db
            .insertInto("accounts")
            .values(accounts.map((n, i) => row(n, powers[i] ?? 0)))
            .execute();
        }
        const initial = accounts.map(address);
        const seen: { address: string; power: bigint }[] = [];
        let after: string | null = null;
        for (let page = 0; ; page++) {
          const response: DelegatePage = dataOf(
            await api.gql<DelegatePage>(
              `query($first: Int!, $after: String) { delegates(first: $first, after: $after) {
                pageInfo { hasNextPage endCursor } edges { node { address votingPower } } } }`,
              { first: pageSize, after },
            ),
          );
          t.ok(response.delegates.edges.length <= pageSize);
          for (const e of response.delegates.edges as { node: { address: string; votingPower: string } }[]) {
            seen.push({ address: e.node.address.toLowerCase(), power: BigInt(e.node.votingPower) });
          }
          if (!response.delegates.pageInfo.hasNextPage) break;
          after = response.delegates.pageInfo.endCursor;
          const added = (additions[page] ?? []).filter((a) => !accounts.includes(a.n));
          for (const a of added) accounts.push(a.n);
          if (added.length > 0) {
            await db
              .insertInto("accounts")
              .values(added.map((a) => row(a.n, a.power)))
              .execute();
          }
        }
        const addresses = seen.map((s) => s.address);
        if (new Set(addresses).size !== addresses.length) throw new Error("a delegate was repeated");
        const skipped = initial.filter((a) => !addresses.includes(a));
        if (skipped.length > 0) throw new Error(`delegates skipped: ${skipped}`);
        for (let i = 1; i < seen.length; i++) {
          const a = seen[i - 1] as (typeof seen)[number];
          const b = seen[i] as (typeof seen)[number];
          if (a.power < b.power) throw new Error("delegates are not strongest first");
        }
      },
    ),
    { numRuns: 30 },
  );
});
