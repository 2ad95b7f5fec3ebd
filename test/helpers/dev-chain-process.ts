import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Deployment } from "../../services/chain/deployment.ts";

/** Starts dev-chain-child.ts and resolves with what it serves; killed on teardown. */
export async function startDevChainProcess(
  t: { teardown(fn: () => unknown): void },
  timeoutMs = 120_000,
): Promise<{ rpcUrl: string; deployment: Deployment }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL("dev-chain-child.ts", import.meta.url))],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  t.teardown(() => {
    child.kill("SIGKILL");
  });
  const lines = createInterface({ input: child.stdout });
  const first = once(lines, "line").then(([line]) => JSON.parse(line as string));
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`the development chain process exited with ${code} before serving`);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no development chain served within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([first, exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
