import t from "tap";
import { differential } from "./differential-run.ts";

t.test("the index agrees with the contracts after a random history (PGlite)", async (t) => {
  await differential(t, "pglite", 1);
});
