import { spawn } from "node:child_process";
import { createServer } from "node:net";

export interface HardhatNode {
  url: string;
  stop(): void;
}

/**
 * `hardhat node` on a free port, in its own process group (as an operator would run a node): a real
 * JSON-RPC endpoint in another process. Resolves once it answers; `stop` ends the whole group.
 */
export async function startHardhatNode(): Promise<HardhatNode> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const child = spawn("npx", ["hardhat", "node", "--port", String(port)], { stdio: "ignore", detached: true });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answered = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
    }).then(
      (r) => r.ok,
      () => false,
    );
    if (answered) break;
    if (child.exitCode !== null) throw new Error("hardhat node exited before answering");
    if (Date.now() > deadline) throw new Error("hardhat node did not answer within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, stop: () => process.kill(-(child.pid as number), "SIGTERM") };
}
