import { Contract, Signature, verifyTypedData } from "ethers";
import { loadArtifact } from "../../chain/artifacts.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";
import type { MutationDelegateBySigArgs } from "../generated/resolvers.ts";
import type { Relay } from "../relay.ts";

const delegationTypes = {
  Delegation: [
    { name: "delegatee", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "expiry", type: "uint256" },
  ],
};

function refuse(reason: string, message: string): never {
  throw new AppError("BAD_USER_INPUT", message, { details: { reason } });
}

/**
 * delegateBySig: a holder without ETH delegates with an EIP-712 Delegation the relayer sends. Checked the
 * way the token will (not expired, at the delegator's nonce, signed by the delegator), so that a replay
 * or a bad signature is refused with its reason, then relayed under the same quotas as ballots.
 */
export function createDelegateBySig(deps: Deps, relay: Relay) {
  const token = new Contract(deps.deployment.contracts.token, loadArtifact("token").abi, relay.signer ?? deps.provider);

  async function check(args: MutationDelegateBySigArgs): Promise<Signature> {
    const head = await deps.provider.getBlock("latest");
    if (head && args.expiry <= BigInt(head.timestamp)) {
      refuse("EXPIRED", `the delegation expired at ${args.expiry}; sign a new one`);
    }
    const nonce: bigint = await token.nonces(args.delegator);
    if (args.nonce !== nonce) {
      refuse(
        "BAD_NONCE",
        `the delegation is signed at nonce ${args.nonce}, but ${args.delegator}'s nonce is ${nonce} (a replayed or stale signature)`,
      );
    }
    const domain = {
      name: (await token.name()) as string,
      version: "1",
      chainId: deps.deployment.chainId,
      verifyingContract: deps.deployment.contracts.token,
    };
    let signed: string;
    let signature: Signature;
    try {
      signature = Signature.from(args.signature);
      const { delegatee, nonce, expiry } = args;
      signed = verifyTypedData(domain, delegationTypes, { delegatee, nonce, expiry }, signature);
    } catch {
      return refuse("BAD_SIGNATURE", "signature is not a valid 65-byte ECDSA signature");
    }
    if (signed !== args.delegator) {
      refuse("BAD_SIGNATURE", `the delegation is signed by ${signed}, not by ${args.delegator}`);
    }
    return signature;
  }

  return {
    async delegateBySig(_: unknown, args: MutationDelegateBySigArgs, ctx: ApiContext) {
      relay.requireSigner("delegation");
      return relay.metrics.count("delegateBySig", async () => {
        const { v, r, s } = await check(args);
        return relay.send(
          token.getFunction("delegateBySig"),
          [args.delegatee, args.nonce, args.expiry, v, r, s],
          args.delegator,
          ctx,
          "relaying the delegation",
        );
      });
    },
  };
}
