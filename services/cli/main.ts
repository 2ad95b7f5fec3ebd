/** The `commons` command (bin/commons.js runs this file with tsx). */
import { runCli } from "./program.ts";

process.exitCode = await runCli(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
