import { JsonRpcProvider, Network } from "ethers";
import type { PublishedDeployment } from "../chain/deployment.ts";
import { AppError } from "../shared/errors.ts";

/** The deployment (chain id, contract addresses, RPC URL) the service at `url` governs: GET /deployment. */
export async function fetchDeployment(url: string): Promise<PublishedDeployment> {
  let res: Response;
  try {
    res = await fetch(new URL("/deployment", url));
  } catch (cause) {
    throw new AppError("UPSTREAM_ERROR", `cannot reach the service at ${url}: is it running?`, { cause });
  }
  if (!res.ok) throw new AppError("UPSTREAM_ERROR", `${url}/deployment answered ${res.status}`);
  return (await res.json()) as PublishedDeployment;
}

/** Node's and ethers' ways of saying "the request never got an answer" (not "the chain refused it"). */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "NETWORK_ERROR",
  "SERVER_ERROR",
  "TIMEOUT",
]);

/** True when `error` means the chain's JSON-RPC could not be reached, as opposed to a revert. */
export function isUnreachable(error: unknown): boolean {
  for (let e: unknown = error; e && typeof e === "object"; e = (e as { cause?: unknown }).cause) {
    if (UNREACHABLE.has(String((e as { code?: unknown }).code))) return true;
  }
  return false;
}

/** The host of an RPC URL only: RPC URLs often carry a provider key in their path or query. */
export const rpcHost = (url: string) => new URL(url).host;

export function unreachableChain(rpcUrl: string, cause: unknown): AppError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new AppError(
    "RPC_ERROR",
    `cannot reach the chain's JSON-RPC at ${rpcHost(rpcUrl)} (${reason}): is it running? (--rpc or COMMONS_RPC_URL)`,
    { cause },
  );
}

/**
 * A provider for the chain the service governs, checked before anything is signed or sent: the RPC URL
 * is `rpcOverride` (--rpc, COMMONS_RPC_URL) or the one the service publishes; the chain must have the
 * service's chain id and, at the deploy block, the same block hash. Every development chain has chain
 * id 31337 and the same contract addresses, so only the hash tells a second one on the same port apart.
 */
export async function connectChain(
  deployment: PublishedDeployment,
  rpcOverride: string | undefined,
  serviceUrl: string,
  options: { pollingInterval?: number } = {},
): Promise<{ provider: JsonRpcProvider; rpcUrl: string }> {
  const rpcUrl = rpcOverride ?? deployment.rpcUrl;
  if (!rpcUrl) {
    throw new AppError(
      "BAD_USER_INPUT",
      `the service at ${serviceUrl} publishes no JSON-RPC URL: give the chain's with --rpc or COMMONS_RPC_URL`,
    );
  }
  // A static network: ethers would otherwise retry its network detection forever on a refused connection.
  const provider = new JsonRpcProvider(rpcUrl, undefined, {
    staticNetwork: Network.from(deployment.chainId),
    cacheTimeout: -1,
    pollingInterval: options.pollingInterval ?? 250,
  });
  try {
    let chainId: number;
    let hash: string | null;
    try {
      chainId = Number(BigInt(String(await provider.send("eth_chainId", []))));
      hash =
        deployment.deployBlockHash === null ? null : ((await provider.getBlock(deployment.deployBlock))?.hash ?? null);
    } catch (cause) {
      throw unreachableChain(rpcUrl, cause);
    }
    if (chainId !== deployment.chainId) {
      throw new AppError(
        "CHAIN_MISMATCH",
        `${rpcHost(rpcUrl)} serves chain ${chainId}, but the service at ${serviceUrl} governs chain ${deployment.chainId}`,
      );
    }
    if (deployment.deployBlockHash !== null && hash !== deployment.deployBlockHash) {
      throw new AppError(
        "CHAIN_MISMATCH",
        `${rpcHost(rpcUrl)} is not the chain the service at ${serviceUrl} indexes: its block ${deployment.deployBlock} ` +
          `is ${hash ?? "missing"}, the service's is ${deployment.deployBlockHash} (another development chain on that port?)`,
      );
    }
    return { provider, rpcUrl };
  } catch (error) {
    provider.destroy();
    throw error;
  }
}
