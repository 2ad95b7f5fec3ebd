import type { BaseContractMethod, Wallet } from "ethers";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors.ts";
import type { ApiContext } from "./context.ts";
import type { Quotas } from "./quotas.ts";
import { relayMetrics } from "./relay-metrics.ts";
import { relayFailure } from "./resolvers/reverts.ts";

/**
 * The service's relayer, shared by every mutation that pays gas for a signature (castVoteBySig,
 * delegateBySig): one place that estimates the call, charges the same quotas (the signer's and the
 * client's relays per day, the day's gas spend, on every replica), refunds them when the send fails, and
 * sends one transaction at a time so that the relayer's nonces never collide.
 */
export function createRelay(deps: Deps, relayer: Wallet | undefined, quotas: Quotas) {
  const { config } = deps;
  const signer = relayer && (relayer.provider ? relayer : relayer.connect(deps.provider));
  const metrics = relayMetrics(deps.metrics.registry, config);
  let queue: Promise<unknown> = Promise.resolve();

  return {
    /** The relayer's wallet, connected; undefined when the service has no RELAYER_PRIVATE_KEY. */
    signer,
    metrics,
    /** Refuses at once when the service has no relayer key. */
    requireSigner(what: string): Wallet {
      if (!signer) {
        throw new AppError("RELAYER_NOT_CONFIGURED", `gasless ${what} is off: the service has no RELAYER_PRIVATE_KEY`);
      }
      return signer;
    },
    /**
     * Sends `call(...args)` from the relayer, charged to `account` (the signer of what is relayed) and to
     * the client; returns the transaction hash. `what` names the action in errors ("relaying the vote").
     */
    async send(
      call: BaseContractMethod,
      args: unknown[],
      account: string,
      ctx: ApiContext,
      what: string,
    ): Promise<string> {
      let gasLimit: bigint;
      let price: bigint;
      try {
        const [estimate, fees] = await Promise.all([call.estimateGas(...args), deps.provider.getFeeData()]);
        // A little headroom: the state may move between the estimate and the block.
        gasLimit = (estimate * 12n) / 10n;
        price = fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
      } catch (cause) {
        throw relayFailure(what, cause);
      }
      const charged = await quotas.charge([
        { scope: "relay_account", subject: account, limit: config.RELAY_PER_VOTER_PER_DAY },
        { scope: "relay_client", subject: await ctx.clientKey(), limit: config.RELAY_PER_CLIENT_PER_DAY },
        {
          scope: "relay_spend",
          subject: "relayer",
          amount: gasLimit * price,
          limit: config.RELAY_MAX_SPEND_WEI_PER_DAY,
        },
      ]);
      if (charged.used.relay_spend !== undefined) metrics.spent.set(Number(charged.used.relay_spend));
      const sendOne = async (): Promise<string> => {
        try {
          const tx = await call(...args, { gasLimit });
          return tx.hash as string;
        } catch (cause) {
          await charged.refund();
          throw relayFailure(what, cause);
        }
      };
      const result = queue.then(sendOne, sendOne);
      queue = result.catch(() => undefined);
      return result;
    },
  };
}

export type Relay = ReturnType<typeof createRelay>;
