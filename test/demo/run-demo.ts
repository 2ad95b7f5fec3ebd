import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Test } from "tap";
import type { Service } from "../../services/runtime/start-service.ts";
import { build } from "../helpers/app.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const tsx = createRequire(import.meta.url).resolve("tsx/cli");

/** Runs `npm run demo`'s script as its own process against `service`; resolves with its exit code and output. */
export function runDemo(service: Service): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [tsx, "scripts/demo.ts"], {
    cwd: root,
    env: { ...process.env, COMMONS_URL: service.urls.http, COMMONS_RPC_URL: service.urls.rpc },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The reason codes the demo's refusal steps must have met, in order. */
export const REFUSALS = ["MODEL_NOT_APPROVED", "MAX_TOKENS_EXCEEDED", "BUDGET_EXHAUSTED"];

/**
 * The demo as a test: it exits 0 against a service on `database`, each refusal step met its reason
 * code, and the audit trail holds the admitted calls and every refusal.
 */
export async function testDemoOn(t: Test, database: "pglite" | "postgres"): Promise<void> {
  const service = await build(t, { database });
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
}
