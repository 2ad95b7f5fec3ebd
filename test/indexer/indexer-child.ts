import { type ChildProcess, spawn } from "node:child_process";

const script = new URL("./indexer-process.ts", import.meta.url).pathname;

/** Starts the indexer in a child process; resolves with the process and a promise of its exit. */
export function spawnIndexer(databaseUrl: string, rpcUrl: string, deployment: unknown, maxRange: number) {
  // The same Node (22, from the node devDependency) with tsx's loader: what `npx tsx` runs, minus npx.
  const args = ["--import", "tsx", script, databaseUrl, rpcUrl, JSON.stringify(deployment), String(maxRange)];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const said = (line: string) =>
    new Promise<void>((resolve, reject) => {
      let out = "";
      child.stdout?.on("data", (chunk) => {
        out += String(chunk);
        if (out.split("\n").includes(line)) resolve();
      });
      exited.then(() => reject(new Error(`indexer process exited before saying ${line}`)));
    });
  return { child, exited, said };
}

/** kill -9: no cleanup, no graceful close of the database connection. */
export function kill(child: ChildProcess) {
  child.kill("SIGKILL");
}
