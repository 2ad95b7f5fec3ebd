import type { Command } from "commander";
import { AppError } from "../../shared/errors.ts";
import type { CliContext } from "../context.ts";
import { REVOKE_API_KEY } from "../operations.ts";
import { signInForApiKey } from "../sign-in.ts";

export function registerKeys(program: Command, ctx: CliContext) {
  const key = program.command("key").description("API keys for the gateway, issued to your wallet");

  key
    .command("create")
    .description("sign in with Ethereum (EIP-4361) and get an API key; it is shown this once")
    .option("--label <text>", "a name to recognise the key by")
    .action(async (flags: { label?: string }) => {
      const issued = await signInForApiKey(ctx.client(), ctx.options().url, await ctx.wallet(), flags.label);
      ctx.print(issued, () =>
        [
          `API key for ${issued.address} (id ${issued.id}); store it now, it is not shown again:`,
          `  ${issued.key}`,
          `Use it with any OpenAI client: base URL ${new URL("/v1", ctx.options().url)}`,
        ].join("\n"),
      );
    });

  key
    .command("revoke")
    .description("revoke one of your keys (authenticated with any live key of yours in COMMONS_API_KEY)")
    .argument("<id>", "the key's id")
    .action(async (id: string) => {
      const apiKey = ctx.env.COMMONS_API_KEY;
      if (!apiKey) throw new AppError("BAD_USER_INPUT", "set COMMONS_API_KEY to a live key of the same wallet");
      await ctx.client(apiKey).request(REVOKE_API_KEY, { id });
      ctx.print({ id, revoked: true }, () => `Revoked key ${id}`);
    });
}
