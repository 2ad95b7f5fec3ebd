import { ZeroAddress } from "ethers";
import { accountChanged, accountOf } from "../range-state.ts";
import type { Handlers } from "./handler.ts";

/** The governance token (ERC20Votes): balances, the supply, delegations and voting power. */
export const token: Handlers<"Transfer" | "DelegateChanged" | "DelegateVotesChanged"> = {
  Transfer(s, e) {
    const block = e.blockNumber;
    if (e.from === ZeroAddress) s.totalSupply += e.value;
    else {
      const from = accountOf(s, e.from, block);
      from.balance -= e.value;
      accountChanged(s, from, block);
    }
    if (e.to === ZeroAddress) s.totalSupply -= e.value;
    else {
      const to = accountOf(s, e.to, block);
      to.balance += e.value;
      accountChanged(s, to, block);
    }
  },
  DelegateChanged(s, e) {
    const block = e.blockNumber;
    const delegator = accountOf(s, e.delegator, block);
    delegator.delegate = e.toDelegate === ZeroAddress ? null : e.toDelegate;
    accountChanged(s, delegator, block);
    if (e.fromDelegate !== ZeroAddress) {
      const from = accountOf(s, e.fromDelegate, block);
      // Never below zero: an existing DAO's delegations made before the index began are not counted.
      from.delegators = Math.max(0, from.delegators - 1);
      accountChanged(s, from, block);
    }
    if (e.toDelegate !== ZeroAddress) {
      const to = accountOf(s, e.toDelegate, block);
      to.delegators += 1;
      accountChanged(s, to, block);
    }
  },
  DelegateVotesChanged(s, e) {
    const delegate = accountOf(s, e.delegate, e.blockNumber);
    delegate.votingPower = e.newVotes;
    accountChanged(s, delegate, e.blockNumber);
  },
};
