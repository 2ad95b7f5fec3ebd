import t from "tap";
import { build } from "../helpers/app.ts";
import { REFUSALS, runDemo } from "./run-demo.ts";

t.test("npm run demo walks the whole flow against a service on pglite", async (t) => {
  const service = await build(t, { database: "pglite" });
  const { code, stdout, stderr } = await runDemo(service);
  t.equal(code, 0, stderr || "the demo exits 0");
  t.same(
    REFUSALS.filter((reason) => stdout.includes(`refused: ${reason}`) || stdout.includes(`: ${reason}`)),
    REFUSALS,
    "each refusal step met its reason code",
  );
  const decisions = await service.deps.database.db
    .selectFrom("gateway_decisions")
    .select(["admitted", "reason_code"])
    .execute();
  t.ok(
    decisions.some((d) => d.admitted),
    "the ledger's audit trail holds admitted calls",
  );
  t.same(
    REFUSALS.filter((reason) => decisions.some((d) => d.reason_code === reason)),
    REFUSALS,
    "and every refusal, by reason code",
  );
});
