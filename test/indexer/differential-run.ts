import fc from "fast-check";
import { createChain } from "../../services/devkit/chain.ts";
import { compareWithChain } from "./compare-with-chain.ts";
import { migratedDatabase, startIndexer } from "./fixture.ts";
import { playHistory, stepArb } from "./history.ts";

type T = Parameters<typeof migratedDatabase>[0] & { ok(value: unknown, message: string): unknown };

/**
 * The differential property: whatever random governance history the chain goes through, the index
 * (followed live, while the history is played) agrees with every view of the contracts.
 */
export async function differential(t: T, kind: "postgres" | "pglite", numRuns: number, seed?: number) {
  let totalFacts = 0;
  let totalAccepted = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { minLength: 15, maxLength: 35 }), async (steps) => {
      const chain = await createChain();
      try {
        const { database } = await migratedDatabase(t, kind);
        const indexer = startIndexer(t, database, chain);
        totalAccepted += await playHistory(chain, steps);
        await indexer.waitForBlock();
        const { diffs, facts } = await compareWithChain(database.db, chain);
        await indexer.stop();
        totalFacts += facts;
        if (diffs.length > 0) throw new Error(`index differs from chain:\n${diffs.join("\n")}`);
      } finally {
        await chain.close();
      }
    }),
    { numRuns, endOnFailure: true, ...(seed === undefined ? {} : { seed }) },
  );
  t.ok(totalAccepted > numRuns * 3, `histories did something (${totalAccepted} accepted steps)`);
  t.ok(totalFacts > numRuns * 20, `compared ${totalFacts} facts`);
}
