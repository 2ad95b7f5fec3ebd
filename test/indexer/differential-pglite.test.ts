import t from "tap";
import { differential } from "./differential-run.ts";

t.test("the index agrees with the contracts after a seeded random history (PGlite)", async (t) => {
  // One fixed history (seed 3: 12 accepted steps): PGlite checks the same index code on the embedded
  // database; the random exploration runs on Postgres (differential.test.ts).
  await differential(t, "pglite", 1, 3);
});
