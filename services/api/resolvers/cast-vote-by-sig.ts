import { Contract, type TypedDataDomain, verifyTypedData, type Wallet } from "ethers";
import { loadArtifact } from "../../chain/artifacts.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors.ts";
import { type SupportName, supportNumber } from "./shapes.ts";

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

interface CastVoteArgs {
  proposalId: bigint;
  support: SupportName;
  voter: string;
  signature: string;
  reason?: string | null;
}

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
 * castVoteBySig: checks the ballot the way the governor will (signer, nonce, proposal active, not voted,
 * weight at the snapshot), so that a bad ballot is refused with its reason instead of costing the
 * relayer a reverted transaction; then relays it. Relays are sent one at a time so that the relayer's
 * nonces never collide.
 */
export function createCastVoteBySig(deps: Deps, relayer: Wallet | undefined) {
  const signer = relayer && (relayer.provider ? relayer : relayer.connect(deps.provider));
  const governor = new Contract(
    deps.deployment.contracts.governor,
    loadArtifact("governor").abi,
    signer ?? deps.provider,
  );
  let domain: Promise<TypedDataDomain> | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const eip712Domain = () => {
    domain ??= (async () => ({
      name: (await governor.name()) as string,
      version: (await governor.version()) as string,
      chainId: deps.deployment.chainId,
      verifyingContract: deps.deployment.contracts.governor,
    }))();
    return domain;
  };

  return {
    async castVoteBySig(_: unknown, args: CastVoteArgs) {
      if (!signer) {
        throw new AppError("RELAYER_NOT_CONFIGURED", "gasless voting is off: the service has no RELAYER_PRIVATE_KEY");
      }
      const support = supportNumber(args.support);
      let state: bigint;
      try {
        state = await governor.state(args.proposalId);
      } catch {
        throw new AppError("NOT_FOUND", `proposal ${args.proposalId} does not exist`);
      }
      if (state !== ACTIVE) refuse("NOT_ACTIVE", `proposal ${args.proposalId} is not open for voting`);
      const nonce: bigint = await governor.nonces(args.voter);
      const ballot = { proposalId: args.proposalId, support, voter: args.voter, nonce };
      const extended = args.reason != null;
      const signed = extended
        ? recover(
            await eip712Domain(),
            extendedBallotTypes,
            { ...ballot, reason: args.reason, params: "0x" },
            args.signature,
          )
        : recover(await eip712Domain(), ballotTypes, ballot, args.signature);
      if (signed !== args.voter) {
        refuse(
          "BAD_SIGNATURE",
          `the signature is by ${signed}, not by voter ${args.voter}, for this ballot at the voter's nonce ${nonce}`,
        );
      }
      if (await governor.hasVoted(args.proposalId, args.voter)) {
        refuse("ALREADY_VOTED", `${args.voter} has already voted on proposal ${args.proposalId}`);
      }
      const snapshot: bigint = await governor.proposalSnapshot(args.proposalId);
      const weight: bigint = await governor.getVotes(args.voter, snapshot);
      if (weight === 0n) refuse("NO_VOTING_POWER", `${args.voter} had no voting power at the proposal's snapshot`);

      const send = async (): Promise<string> => {
        try {
          const tx = extended
            ? await governor.castVoteWithReasonAndParamsBySig(
                args.proposalId,
                support,
                args.voter,
                args.reason,
                "0x",
                args.signature,
              )
            : await governor.castVoteBySig(args.proposalId, support, args.voter, args.signature);
          return tx.hash as string;
        } catch (cause) {
          const reason = (cause as { shortMessage?: string }).shortMessage ?? (cause as Error).message;
          throw new AppError("RPC_ERROR", `relaying the vote failed: ${reason}`, { cause });
        }
      };
      const result = queue.then(send, send);
      queue = result.catch(() => undefined);
      return result;
    },
  };
}
