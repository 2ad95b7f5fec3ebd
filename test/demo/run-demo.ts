import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Service } from "../../services/runtime/start-service.ts";

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
