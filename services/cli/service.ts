import type { Deployment } from "../chain/deployment.ts";
import { AppError } from "../shared/errors.ts";

/** The deployment (chain id and contract addresses) the service at `url` governs: GET /deployment. */
export async function fetchDeployment(url: string): Promise<Deployment> {
  let res: Response;
  try {
    res = await fetch(new URL("/deployment", url));
  } catch (cause) {
    throw new AppError("UPSTREAM_ERROR", `cannot reach the service at ${url}: is it running?`, { cause });
  }
  if (!res.ok) throw new AppError("UPSTREAM_ERROR", `${url}/deployment answered ${res.status}`);
  return (await res.json()) as Deployment;
}
