import { isAppError } from "../../../shared/errors.ts";
import { WalletProblem } from "../wallet/wallet-problem.ts";

export interface Described {
  /** What happened, in words. */
  title: string;
  /** What the person can do next. */
  next: string;
}

/** EIP-1193 4001 and ethers' ACTION_REJECTED: the person said no in the wallet. */
function rejectedInWallet(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.code === 4001 || e.code === "ACTION_REJECTED") return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** Our contracts' refusals, by custom error name, in words. */
const contractRefusals: Record<string, Described> = {
  GovernorAlreadyCastVote: {
    title: "This account has already voted on this proposal.",
    next: "The governor counts one vote per account: your first vote stands.",
  },
  GovernorUnexpectedProposalState: {
    title: "The proposal is not in the right state for this.",
    next: "Voting needs an active proposal, queueing a succeeded one, executing a queued one: check its state above.",
  },
  TimelockUnexpectedOperationState: {
    title: "Too early: the timelock has not released this proposal yet.",
    next: "Execute it once the time shown next to Execute has passed.",
  },
  GovernorInsufficientProposerVotes: {
    title: "Your voting power is below the proposal threshold.",
    next: "Delegate your tokens to yourself on the Delegates page, or ask holders to delegate to you.",
  },
  GovernorRestrictedProposer: {
    title: "This proposal was drafted for another proposer.",
    next: "Draft it again from the account you send it with.",
  },
};

const byCode: Record<string, string> = {
  UPSTREAM_ERROR: "Check that the service is running (npm start), then reload the page.",
  RATE_LIMITED: "Wait a minute, then try again.",
  BAD_USER_INPUT: "Correct what the message names and try again.",
  PROPOSER_REQUIRED: "Connect the wallet that will send the proposal, then draft it again.",
  RELAYER_NOT_CONFIGURED: "Vote directly from your wallet instead (it costs a little gas).",
  UNAUTHENTICATED: "Sign in again on My AI, or check the operator token.",
  FORBIDDEN: "This needs another account's key or the operator token.",
  NOT_FOUND: "Check the address of the page; the index may not have it yet.",
  POLICY_STATE_STALE: "The index is behind the chain; wait for it to catch up and try again.",
  RPC_ERROR: "The chain did not accept the transaction; reload to see the current state and try again.",
  TRANSACTION_REVERTED: "Nothing changed on chain. Reload to see the current state.",
  SIMULATION_TIMEOUT: "The copy of the chain was too slow this time; reload the page to try again.",
  SIMULATION_FAILED: "The service could not copy the chain to try the proposal; reload later, or ask the operator.",
  WEBHOOK_URL_INVALID: "Give a full http(s) URL without a user name or password.",
  WEBHOOK_URL_FORBIDDEN: "Use a public address: this service, loopback and link-local addresses are not reachable.",
  EMAIL_UNVERIFIABLE: "Check the address, or use a webhook if this service sends no email.",
  SUBSCRIPTION_LIMIT: "Delete a subscription you no longer need, then try again.",
};

/** Any error a person can meet, in words, with what to do next. */
export function describe(error: unknown): Described {
  if (rejectedInWallet(error)) {
    return {
      title: "You declined the request in your wallet.",
      next: "Nothing was sent. Try again when you are ready.",
    };
  }
  if (error instanceof WalletProblem) {
    const next: Record<WalletProblem["code"], string> = {
      NO_WALLET:
        "Install a browser wallet (MetaMask, Rabby, Coinbase Wallet…) and reload. Reading needs no wallet; the CLI works too.",
      NOT_CONNECTED: "Connect a wallet with the button at the top of the page.",
      WRONG_CHAIN: "Use “Switch network” at the top of the page, then try again.",
      CHAIN_UNKNOWN: "Add the network to your wallet by hand (chain id and RPC URL from the operator), then switch.",
    };
    return { title: error.message, next: next[error.code] };
  }
  if (isAppError(error)) {
    const contractError = error.details?.contractError;
    const refusal = typeof contractError === "string" ? contractRefusals[contractError] : undefined;
    if (refusal) return refusal;
    return { title: capitalise(error.message), next: byCode[error.code] ?? "Reload the page and try again." };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { title: capitalise(message), next: "Reload the page and try again; if it persists, tell the operator." };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** An error shown in words, announced to screen readers. */
export function Problem({ error, label }: { error: unknown; label?: string }) {
  if (!error) return null;
  const { title, next } = describe(error);
  return (
    <div class="problem" role="alert">
      <strong>
        {label ? `${label}: ` : ""}
        {title}
      </strong>
      <p>{next}</p>
    </div>
  );
}
