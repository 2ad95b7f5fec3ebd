import { Transaction } from "ethers";
import { type ContractRole, contractInterface } from "../../chain/artifacts.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";
import type { Quotas } from "../quotas.ts";
import { relayMetrics } from "../relay-metrics.ts";
import { relayFailure } from "./reverts.ts";

/** What a relayed transaction may call: governance actions on the governor, delegation on the token. */
const allowedMethods: Partial<Record<ContractRole, ReadonlySet<string>>> = {
  governor: new Set([
    "propose",
    "castVote",
    "castVoteWithReason",
    "castVoteWithReasonAndParams",
    "castVoteBySig",
    "castVoteWithReasonAndParamsBySig",
    "queue",
    "execute",
    "cancel",
  ]),
  token: new Set(["delegate", "delegateBySig"]),
};

function parseSigned(raw: string): Transaction {
  let tx: Transaction;
  try {
    tx = Transaction.from(raw);
  } catch (cause) {
    throw new AppError("BAD_USER_INPUT", "signedTransaction is not an RLP-encoded Ethereum transaction", { cause });
  }
  if (!tx.signature || tx.from === null) throw new AppError("BAD_USER_INPUT", "the transaction is not signed");
  return tx;
}

/** Refuses anything but a call of an allowed method of our governor or token, on our chain, without ETH. */
export function checkRelayable(tx: Transaction, deployment: ApiContext["deps"]["deployment"]): string {
  if (tx.chainId !== BigInt(deployment.chainId)) {
    throw new AppError(
      "BAD_USER_INPUT",
      `the transaction is signed for chain ${tx.chainId}; this service relays to chain ${deployment.chainId}`,
      { details: { reason: "WRONG_CHAIN" } },
    );
  }
  const role = (Object.keys(allowedMethods) as ContractRole[]).find((r) => deployment.contracts[r] === tx.to);
  if (tx.to === null || role === undefined) {
    throw new AppError(
      "FORBIDDEN",
      `only calls to the governor or the token are relayed, not to ${tx.to ?? "a new contract"}`,
      {
        details: { reason: "FOREIGN_CONTRACT" },
      },
    );
  }
  const method = tx.data.length >= 10 ? contractInterface(role).getFunction(tx.data.slice(0, 10))?.name : undefined;
  if (method === undefined || !allowedMethods[role]?.has(method)) {
    throw new AppError("FORBIDDEN", `${role}.${method ?? tx.data.slice(0, 10)} is not a method this service relays`, {
      details: { reason: "METHOD_NOT_ALLOWED" },
    });
  }
  if (tx.value !== 0n) {
    throw new AppError("BAD_USER_INPUT", "relayed transactions must not send ETH", { details: { reason: "VALUE" } });
  }
  return method;
}

/**
 * relayTransaction: broadcasts a wallet-signed call of an allowed method (its signer pays the gas),
 * within the quotas per signer and per client. The call is simulated first, so that one the contract
 * would revert is answered with what the revert means instead of being broadcast.
 */
export function createRelayTransaction(deps: Deps, quotas: Quotas) {
  const { config } = deps;
  const metrics = relayMetrics(deps.metrics.registry, config);

  async function relay(signedTransaction: string, ctx: ApiContext): Promise<string> {
    const tx = parseSigned(signedTransaction);
    const method = checkRelayable(tx, deps.deployment);
    const from = tx.from as string;
    try {
      await deps.provider.call({ from, to: tx.to, data: tx.data, gasLimit: tx.gasLimit, value: tx.value });
    } catch (cause) {
      throw relayFailure(`${method} from ${from}`, cause);
    }
    const charged = await quotas.charge([
      { scope: "relay_account", subject: from, limit: config.RELAY_PER_VOTER_PER_DAY },
      { scope: "relay_client", subject: await ctx.clientKey(), limit: config.RELAY_PER_CLIENT_PER_DAY },
    ]);
    try {
      const sent = await deps.provider.broadcastTransaction(tx.serialized);
      return sent.hash;
    } catch (cause) {
      await charged.refund();
      const failure = relayFailure(`${method} from ${from}`, cause);
      if (failure.code !== "RPC_ERROR") throw failure;
      const reason = (cause as { shortMessage?: string }).shortMessage ?? (cause as Error).message;
      throw new AppError("BAD_USER_INPUT", `the node refused the transaction: ${reason}`, {
        cause,
        details: { reason: "REJECTED_BY_NODE" },
      });
    }
  }

  return {
    relayTransaction: (_: unknown, args: { signedTransaction: string }, ctx: ApiContext) =>
      metrics.count("relayTransaction", () => relay(args.signedTransaction, ctx)),
  };
}
