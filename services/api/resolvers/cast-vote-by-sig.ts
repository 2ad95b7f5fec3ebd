import { Contract, type TypedDataDomain, verifyTypedData, type Wallet } from "ethers";
import { loadArtifact } from "../../chain/artifacts.ts";
import { claimBallot, recordBallotRelay, releaseBallot } from "../../db/api-quotas.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";
import type { Quotas } from "../quotas.ts";
import { relayMetrics } from "../relay-metrics.ts";
import { relayFailure } from "./reverts.ts";
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
 * castVoteBySig: checks the ballot the way the governor will (proposal active, not voted, signer at the
 * voter's nonce, weight at the snapshot), so that a bad ballot is refused with its reason instead of
 * costing the relayer a reverted transaction. Then it claims the ballot (one relay per proposal and
 * voter, on every replica), simulates the call (a revert is decoded and answered with what it means),
 * charges the quotas (voter, client, the day's gas spend) and relays it. Relays are sent one at a time so
 * that the relayer's nonces never collide.
 */
export function createCastVoteBySig(deps: Deps, relayer: Wallet | undefined, quotas: Quotas) {
  const { config } = deps;
  const signer = relayer && (relayer.provider ? relayer : relayer.connect(deps.provider));
  const governor = new Contract(
    deps.deployment.contracts.governor,
    loadArtifact("governor").abi,
    signer ?? deps.provider,
  );
  const metrics = relayMetrics(deps.metrics.registry, config);
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

  async function check(args: CastVoteArgs, support: number): Promise<void> {
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
    const nonce: bigint = await governor.nonces(args.voter);
    const ballot = { proposalId: args.proposalId, support, voter: args.voter, nonce };
    const signed =
      args.reason != null
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

  async function relay(args: CastVoteArgs, support: number, ctx: ApiContext): Promise<string> {
    const call =
      args.reason != null
        ? governor.getFunction("castVoteWithReasonAndParamsBySig")
        : governor.getFunction("castVoteBySig");
    const callArgs =
      args.reason != null
        ? [args.proposalId, support, args.voter, args.reason, "0x", args.signature]
        : [args.proposalId, support, args.voter, args.signature];
    let gasLimit: bigint;
    let price: bigint;
    try {
      const [estimate, fees] = await Promise.all([call.estimateGas(...callArgs), deps.provider.getFeeData()]);
      // A little headroom: the state may move between the estimate and the block.
      gasLimit = (estimate * 12n) / 10n;
      price = fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
    } catch (cause) {
      throw relayFailure("relaying the vote", cause);
    }
    const charged = await quotas.charge([
      { scope: "relay_account", subject: args.voter, limit: config.RELAY_PER_VOTER_PER_DAY },
      { scope: "relay_client", subject: await ctx.clientKey(), limit: config.RELAY_PER_CLIENT_PER_DAY },
      { scope: "relay_spend", subject: "relayer", amount: gasLimit * price, limit: config.RELAY_MAX_SPEND_WEI_PER_DAY },
    ]);
    if (charged.used.relay_spend !== undefined) metrics.spent.set(Number(charged.used.relay_spend));
    const send = async (): Promise<string> => {
      try {
        const tx = await call(...callArgs, { gasLimit });
        return tx.hash as string;
      } catch (cause) {
        await charged.refund();
        throw relayFailure("relaying the vote", cause);
      }
    };
    const result = queue.then(send, send);
    queue = result.catch(() => undefined);
    return result;
  }

  return {
    async castVoteBySig(_: unknown, args: CastVoteArgs, ctx: ApiContext) {
      if (!signer) {
        throw new AppError("RELAYER_NOT_CONFIGURED", "gasless voting is off: the service has no RELAYER_PRIVATE_KEY");
      }
      return metrics.count("castVoteBySig", async () => {
        const support = supportNumber(args.support);
        await check(args, support);
        if (!(await claimBallot(deps.database.db, args.proposalId, args.voter))) {
          refuse("ALREADY_VOTED", `${args.voter}'s ballot on proposal ${args.proposalId} is already being relayed`);
        }
        let hash: string;
        try {
          hash = await relay(args, support, ctx);
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
