import { Contract, getAddress, type Provider } from "ethers";
import { AppError, type ErrorCode } from "../shared/errors.ts";
import type { ExistingDao } from "./deploy.ts";
import type { GovernanceProfile } from "./deployment.ts";
import { TIMELOCK_ROLES } from "./ignition/parameters.ts";

/**
 * What the service needs of an existing DAO, and nothing more: IGovernor's standard views, a votes token
 * (IVotes) and a TimelockController the governor executes through. Everything else (our late-quorum
 * extension, settings events, ERC-6372 on older governors) may be missing.
 */
const governorAbi = [
  "function COUNTING_MODE() view returns (string)",
  "function votingPeriod() view returns (uint256)",
  "function proposalSnapshot(uint256) view returns (uint256)",
  "function token() view returns (address)",
  "function timelock() view returns (address)",
  "function CLOCK_MODE() view returns (string)",
  "function proposalGuardian() view returns (address)",
];
const timelockAbi = [
  "function getMinDelay() view returns (uint256)",
  "function hasRole(bytes32, address) view returns (bool)",
];
const tokenAbi = [
  "function getVotes(address) view returns (uint256)",
  "function delegates(address) view returns (address)",
  "function supportsInterface(bytes4) view returns (bool)",
];
const ERC721_INTERFACE_ID = "0x80ac58cd";

async function view<T>(contract: Contract, name: string, args: unknown[] = []): Promise<T | undefined> {
  try {
    return (await contract.getFunction(name).staticCall(...args)) as T;
  } catch {
    return undefined;
  }
}

async function hasCode(provider: Provider, address: string): Promise<boolean> {
  return (await provider.getCode(address)) !== "0x";
}

function refuse(code: ErrorCode, message: string, details: Record<string, unknown>): never {
  throw new AppError(code, message, { details });
}

/**
 * Checks that `governor` is an OpenZeppelin-compatible governor with a votes token and a timelock that
 * it may schedule on, and detects its clock and token standard. `timelock`, when given, must be the
 * governor's own timelock: the registry and allocator it will own can only change through proposals
 * that the governor queues there.
 */
export async function probeExistingDao(
  provider: Provider,
  given: { governor: string; timelock?: string | undefined; startBlock: number },
): Promise<ExistingDao> {
  const governorAddress = getAddress(given.governor);
  if (!(await hasCode(provider, governorAddress))) {
    refuse("DEPLOY_NOT_A_GOVERNOR", `${governorAddress} has no code on this chain`, { governor: governorAddress });
  }
  const governor = new Contract(governorAddress, governorAbi, provider);
  for (const name of ["COUNTING_MODE", "votingPeriod", "token"]) {
    if ((await view(governor, name)) === undefined) {
      refuse(
        "DEPLOY_NOT_A_GOVERNOR",
        `${governorAddress} does not answer ${name}(): it is not an IGovernor with votes`,
        {
          governor: governorAddress,
          missing: name,
        },
      );
    }
  }
  const token = getAddress((await view<string>(governor, "token")) as string);
  const votes = new Contract(token, tokenAbi, provider);
  if (!(await hasCode(provider, token)) || (await view(votes, "getVotes", [governorAddress])) === undefined) {
    refuse("DEPLOY_NOT_A_GOVERNOR", `the governor's token ${token} is not a votes token (no getVotes())`, {
      governor: governorAddress,
      token,
    });
  }

  const governorTimelock = await view<string>(governor, "timelock");
  if (given.timelock === undefined && governorTimelock === undefined) {
    refuse("DEPLOY_TIMELOCK_MISMATCH", `${governorAddress} has no timelock(): it does not execute through a timelock`, {
      governor: governorAddress,
    });
  }
  const timelockAddress = getAddress((given.timelock ?? governorTimelock) as string);
  const timelock = new Contract(timelockAddress, timelockAbi, provider);
  if (
    !(await hasCode(provider, timelockAddress)) ||
    (await view(timelock, "getMinDelay")) === undefined ||
    (await view(timelock, "hasRole", [TIMELOCK_ROLES.proposer, governorAddress])) === undefined
  ) {
    refuse("DEPLOY_NOT_A_TIMELOCK", `${timelockAddress} does not answer as a TimelockController`, {
      timelock: timelockAddress,
    });
  }
  if (governorTimelock === undefined || getAddress(governorTimelock) !== timelockAddress) {
    refuse(
      "DEPLOY_TIMELOCK_MISMATCH",
      `the governor executes through ${governorTimelock ?? "no timelock"}, not ${timelockAddress}: what that timelock owns could never be changed by a proposal`,
      { governor: governorAddress, timelock: timelockAddress, governorTimelock: governorTimelock ?? null },
    );
  }
  if (!(await view<boolean>(timelock, "hasRole", [TIMELOCK_ROLES.proposer, governorAddress]))) {
    refuse(
      "DEPLOY_TIMELOCK_MISMATCH",
      `the governor may not schedule on ${timelockAddress} (no PROPOSER_ROLE): no proposal could reach what it would own`,
      { governor: governorAddress, timelock: timelockAddress },
    );
  }

  const head = await provider.getBlockNumber();
  if (!Number.isSafeInteger(given.startBlock) || given.startBlock < 0 || given.startBlock > head) {
    throw new AppError("BAD_USER_INPUT", `startBlock must be a block between 0 and the head (${head})`);
  }
  return {
    governor: governorAddress,
    timelock: timelockAddress,
    token,
    // A governor with GovernorProposalGuardian lends its guardian to the registry's brake.
    hasProposalGuardian: (await view<string>(governor, "proposalGuardian")) !== undefined,
    profile: {
      origin: "existing",
      clock: clockOf(await view<string>(governor, "CLOCK_MODE")),
      token: (await view<boolean>(votes, "supportsInterface", [ERC721_INTERFACE_ID])) ? "ERC721Votes" : "ERC20Votes",
    },
    startBlock: given.startBlock,
  };
}

/** ERC-6372: "mode=timestamp", or "mode=blocknumber&from=default"; governors older than it count blocks. */
function clockOf(mode: string | undefined): GovernanceProfile["clock"] {
  return mode !== undefined && /(^|&)mode=timestamp(&|$)/.test(mode) ? "timestamp" : "blocknumber";
}
