import { readFile } from "node:fs/promises";
import { getAddress, isAddress, ZeroAddress } from "ethers";
import { z } from "zod";
import { AppError } from "../shared/errors.ts";
import type { DeployConfig } from "./deploy.ts";

/**
 * The parameters file of `commons deploy`: which chain, which mode, and what the contracts start with.
 * Amounts are decimal strings (uint256 never passes through a JS number); times are seconds.
 */
const uint = z
  .union([z.string().regex(/^\d+$/, "must be a whole number (a decimal string)"), z.number().int().nonnegative()])
  .transform((v) => BigInt(v));
const seconds = z.number().int().nonnegative();
const address = z
  .string()
  .refine((a) => isAddress(a), "must be a 0x-prefixed 20-byte address")
  .transform((a) => getAddress(a));

const pool = z
  .object({ allowancePerAddress: uint, poolSizePerEpoch: uint, epochLength: seconds.positive() })
  .strict()
  .describe("the community pool: tokens per address and per epoch for everyone, epoch length in seconds");

const common = {
  /** The chain the deployment is meant for: the endpoint must serve it. */
  chainId: z.number().int().positive(),
  pool,
  /**
   * Voting power (token units, wei) an address needs at an epoch's start to draw on the community pool;
   * 0 (the default) opens the pool to every address. At most the token's supply / 10,000.
   */
  poolMinVotes: uint.default("0"),
  /** Seconds a guardian's suspension of a model lasts unless a vote confirms it (1 hour to 30 days). */
  guardianSuspensionPeriod: seconds
    .min(3_600)
    .max(30 * 86_400)
    .default(86_400),
  /** Confirmations to wait for per transaction (default: Ignition's 5; 1 on a chain that mines at once). */
  confirmations: z.number().int().positive().optional(),
};

const newDao = z
  .object({
    mode: z.literal("new"),
    ...common,
    holders: z.array(z.object({ address, amount: uint }).strict()).min(1, "a new token needs at least one holder"),
    governor: z
      .object({
        votingDelay: seconds,
        votingPeriod: seconds.positive(),
        /** At least 1 wei: a threshold of zero lets any address spam proposals (the governor refuses it). */
        proposalThreshold: uint.refine(
          (v) => v >= 1n,
          "must be at least 1 (wei): a zero threshold lets anyone spam proposals",
        ),
        quorumPercent: z.number().int().min(1).max(100),
        lateQuorumExtension: seconds,
        /**
         * For votes, in percent of the supply, that make a proposal succeed before its deadline (at least
         * the quorum); default 100, the whole supply, which in practice keeps every vote to its full period.
         */
        superQuorumPercent: z.number().int().min(1).max(100).default(100),
        /** The security council that may cancel proposals and suspend a model for a while; omit for none. */
        proposalGuardian: address.default(ZeroAddress),
      })
      .strict(),
    timelockDelay: seconds,
  })
  .strict();

const existingDao = z
  .object({
    mode: z.literal("existing"),
    ...common,
    governor: address,
    /** Default: the governor's own `timelock()`. */
    timelock: address.optional(),
    /** The first block the indexer reads: the governor's deployment, or the first proposal worth listing. */
    startBlock: z.number().int().nonnegative(),
  })
  .strict();

const schema = z.discriminatedUnion("mode", [newDao, existingDao]);

export type DeployParameters = z.infer<typeof schema>;
export type NewDaoParameters = z.infer<typeof newDao>;

export function newDaoConfig(p: NewDaoParameters): DeployConfig {
  return {
    holders: p.holders,
    governor: p.governor,
    timelockDelay: p.timelockDelay,
    guardianSuspensionPeriod: p.guardianSuspensionPeriod,
    pool: p.pool,
    poolMinVotes: p.poolMinVotes,
  };
}

/** Reads and checks a parameters file; every problem is named by its path in the file. */
export async function readDeployParameters(path: string): Promise<DeployParameters> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new AppError("BAD_USER_INPUT", `cannot read the parameters file ${path} as JSON`, { cause });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`);
    throw new AppError("BAD_USER_INPUT", `the parameters file ${path} is not valid: ${problems.join("; ")}`, {
      details: { problems },
    });
  }
  return parsed.data;
}
