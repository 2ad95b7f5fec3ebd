#!/usr/bin/env node
// The `commons` package bin. The CLI is TypeScript run by tsx (no build step): this shim starts the
// project's tsx on services/cli/main.ts with the same arguments, and exits with its exit code.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsx = createRequire(import.meta.url).resolve("tsx/cli");
const result = spawnSync(process.execPath, [tsx, join(root, "services/cli/main.ts"), ...process.argv.slice(2)], {
  stdio: "inherit",
});
if (result.error) {
  console.error(`commons: cannot start the CLI: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
