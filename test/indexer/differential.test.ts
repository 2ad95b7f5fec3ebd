import t from "tap";
import { differential } from "./differential-run.ts";

t.test("the index agrees with the contracts after random histories (Postgres)", async (t) => {
  await differential(t, "postgres", 5);
});
