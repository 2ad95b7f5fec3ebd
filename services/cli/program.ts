import { Command, CommanderError, Option } from "commander";
import { isAppError } from "../shared/errors.ts";
import { registerDeploy } from "./commands/deploy.ts";
import { registerImpact } from "./commands/impact.ts";
import { registerKeys } from "./commands/keys.ts";
import { registerLifecycle } from "./commands/lifecycle.ts";
import { registerPropose } from "./commands/propose.ts";
import { registerReads } from "./commands/read.ts";
import { registerVerify } from "./commands/verify.ts";
import { createCliContext, type GlobalOptions, type Output } from "./context.ts";

/** Exit codes: 0 done; 1 the service or the chain refused or could not be reached; 2 wrong usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Runs `commons` with `argv` (without node and the script). Never throws: every failure is printed as
 * `error [CODE]: message` (or a JSON error with --json) and turned into an exit code.
 */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv, output: Output): Promise<number> {
  const program = new Command("commons")
    .description("AI Commons from the command line: govern models and compute on chain, get API keys, read the index")
    .addOption(new Option("--url <url>", "the service").env("COMMONS_URL").default("http://127.0.0.1:4000"))
    .addOption(
      new Option("--rpc <url>", "the chain's JSON-RPC (default: the URL the service publishes)").env("COMMONS_RPC_URL"),
    )
    .option("--keystore <file>", "sign with this ethers JSON keystore (password in COMMONS_KEYSTORE_PASSWORD)")
    .option("--json", "print results as JSON", false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })
    .showHelpAfterError();
  const ctx = createCliContext(() => program.opts<GlobalOptions>(), env, output);
  registerLifecycle(program, ctx);
  registerPropose(program, ctx);
  registerReads(program, ctx);
  registerKeys(program, ctx);
  registerDeploy(program, ctx);
  registerImpact(program, ctx);
  registerVerify(program, ctx);

  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, successfully.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const code = isAppError(error) ? error.code : "INTERNAL";
    const message = error instanceof Error ? error.message : String(error);
    if (program.opts<GlobalOptions>().json) output.err(JSON.stringify({ error: { code, message } }));
    else output.err(`error [${code}]: ${message}`);
    return code === "BAD_USER_INPUT" ? EXIT.usage : EXIT.failed;
  } finally {
    ctx.close();
  }
}
