import { Contract, type TypedDataDomain, verifyTypedData } from "ethers";
import { loadArtifact } from "../../chain/artifacts.ts";
import { ballotNonce } from "../../cli/chain-actions.ts";
import { claimBallot, recordBallotRelay, releaseBallot } from "../../db/api-quotas.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";
import type { MutationCastVoteBySigArgs } from "../generated/resolvers.ts";
import type { Relay } from "../relay.ts";
import { supportNumber } from "./shapes.ts";

const ACTIVE = 1n;

const ballotTypes = {
  Ballot: [
    { name: "proposalId", type: "uint256" },
    { name: "support", type: "uint8" },
    { name: "voter", type: "address" },
    { name: "nonce", type: "uint256" },
  ],
};

const extendedBallotTypes = {
  ExtendedBallot: [
    { name: "proposalId", type: "uint256" },
    { name: "support", type: "uint8" },
    { name: "voter", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "reason", type: "string" },
    { name: "params", type: "bytes" },
  ],
};

function refuse(reason: string, message: string): never {
  throw new AppError("BAD_USER_INPUT", message, { details: { reason } });
}

function recover(
  domain: TypedDataDomain,
  types: Record<string, { name: string; type: string }[]>,
  value: object,
  signature: string,
) {
  try {
    return verifyTypedData(domain, types, value, signature);
  } catch {
    return refuse("BAD_SIGNATURE", "signature is not a valid 65-byte ECDSA signature");
  }
}

/**
 * castVoteBySig: checks the ballot the way the governor will (proposal active, not voted, signer at the
 * voter's nonce, weight at the snapshot), so that a bad ballot is refused with its reason instead of
 * costing the relayer a reverted transaction. Then it claims the ballot (one relay per proposal and
 * voter, on every replica) and hands it to the shared relayer (services/api/relay.ts: simulation, quotas,
 * one transaction at a time).
 */
export function createCastVoteBySig(deps: Deps, relay: Relay) {
  const { config } = deps;
  const governor = new Contract(
    deps.deployment.contracts.governor,
    loadArtifact("governor").abi,
    relay.signer ?? deps.provider,
  );
  let domain: Promise<TypedDataDomain> | undefined;

  const eip712Domain = () => {
    domain ??= (async () => ({
      name: (await governor.name()) as string,
      version: (await governor.version()) as string,
      chainId: deps.deployment.chainId,
      verifyingContract: deps.deployment.contracts.governor,
    }))();
    return domain;
  };

  async function check(args: MutationCastVoteBySigArgs, support: number): Promise<void> {
    if (args.reason != null && Buffer.byteLength(args.reason) > config.RELAY_MAX_REASON_BYTES) {
      refuse(
        "REASON_TOO_LONG",
        `the reason is ${Buffer.byteLength(args.reason)} bytes; the relayer carries at most ${config.RELAY_MAX_REASON_BYTES} (vote from your wallet for a longer one)`,
      );
    }
    let state: bigint;
    try {
      state = await governor.state(args.proposalId);
    } catch {
      throw new AppError("NOT_FOUND", `proposal ${args.proposalId} does not exist`);
    }
    if (state !== ACTIVE) refuse("NOT_ACTIVE", `proposal ${args.proposalId} is not open for voting`);
    // Before the signature: a ballot already counted no longer verifies at the voter's (moved) nonce.
    if (await governor.hasVoted(args.proposalId, args.voter)) {
      refuse("ALREADY_VOTED", `${args.voter} has already voted on proposal ${args.proposalId}`);
    }
    // Like the governor (GovernorNoncesKeyed): the nonce keyed by this proposal first, then the sequential one.
    const nonces = [await ballotNonce(governor, args.voter, args.proposalId)];
    const sequential: bigint = await governor.getFunction("nonces(address)")(args.voter);
    if (sequential !== nonces[0]) nonces.push(sequential);
    const signers: string[] = [];
    for (const nonce of nonces) {
      const ballot = { proposalId: args.proposalId, support, voter: args.voter, nonce };
      signers.push(
        args.reason != null
          ? recover(
              await eip712Domain(),
              extendedBallotTypes,
              { ...ballot, reason: args.reason, params: "0x" },
              args.signature,
            )
          : recover(await eip712Domain(), ballotTypes, ballot, args.signature),
      );
    }
    if (!signers.includes(args.voter)) {
      refuse(
        "BAD_SIGNATURE",
        `the signature is by ${signers[0]}, not by voter ${args.voter}, for this ballot at the voter's nonce ${nonces.join(" or ")}`,
      );
    }
    const snapshot: bigint = await governor.proposalSnapshot(args.proposalId);
    const weight: bigint = await governor.getVotes(args.voter, snapshot);
    if (weight === 0n) refuse("NO_VOTING_POWER", `${args.voter} had no voting power at the proposal's snapshot`);
    if (weight < config.RELAY_MIN_VOTING_POWER) {
      refuse(
        "NO_VOTING_POWER",
        `${args.voter} had ${weight} votes at the snapshot, below the ${config.RELAY_MIN_VOTING_POWER} the relayer pays gas for (vote from your wallet)`,
      );
    }
  }

  return {
    async castVoteBySig(_: unknown, args: MutationCastVoteBySigArgs, ctx: ApiContext) {
      relay.requireSigner("voting");
      return relay.metrics.count("castVoteBySig", async () => {
        const support = supportNumber(args.support);
        await check(args, support);
        if (!(await claimBallot(deps.database.db, args.proposalId, args.voter))) {
          refuse("ALREADY_VOTED", `${args.voter}'s ballot on proposal ${args.proposalId} is already being relayed`);
        }
        // A reason travels in the ExtendedBallot form: a relay that dropped it would change what was signed.
        const [call, callArgs] =
          args.reason != null
            ? [
                governor.getFunction("castVoteWithReasonAndParamsBySig"),
                [args.proposalId, support, args.voter, args.reason, "0x", args.signature],
              ]
            : [governor.getFunction("castVoteBySig"), [args.proposalId, support, args.voter, args.signature]];
        let hash: string;
        try {
          hash = await relay.send(call, callArgs, args.voter, ctx, "relaying the vote");
        } catch (error) {
          await releaseBallot(deps.database.db, args.proposalId, args.voter);
          throw error;
        }
        await recordBallotRelay(deps.database.db, args.proposalId, args.voter, hash);
        return hash;
      });
    },
  };
}
