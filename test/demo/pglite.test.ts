import t from "tap";
import { testDemoOn } from "./run-demo.ts";

t.test("npm run demo walks the whole flow against a service on pglite", (t) => testDemoOn(t, "pglite"));
