import { readFileSync } from "node:fs";
import { Interface, type InterfaceAbi } from "ethers";
import { AppError } from "../shared/errors.ts";
import { type ContractRole, contractNames } from "./contracts.ts";

export { type ContractRole, contractNames } from "./contracts.ts";

export interface Artifact {
  abi: InterfaceAbi;
  bytecode: string;
}

const artifactsRoot = new URL("../../artifacts/contracts/", import.meta.url);
const cache = new Map<ContractRole, Artifact>();

/** Reads the compiled artifact of one of our contracts (built by `hardhat build`). */
export function loadArtifact(role: ContractRole): Artifact {
  const cached = cache.get(role);
  if (cached) return cached;
  const artifact = loadArtifactAt(contractNames[role]);
  cache.set(role, artifact);
  return artifact;
}

/** The artifact of a contract by its path under contracts/ (e.g. `usage/UsageAnchor`). */
export function loadArtifactAt(path: string): Artifact {
  const name = path.split("/")[1];
  const file = new URL(`${path}.sol/${name}.json`, artifactsRoot);
  let artifact: Artifact;
  try {
    artifact = JSON.parse(readFileSync(file, "utf8")) as Artifact;
  } catch (cause) {
    throw new AppError("CONTRACTS_NOT_BUILT", `contract artifact ${path} is missing: run \`npm run build\``, {
      cause,
    });
  }
  return artifact;
}

const interfaces = new Map<ContractRole, Interface>();

/** The ABI of one of our contracts as an ethers Interface (cached). */
export function contractInterface(role: ContractRole): Interface {
  let iface = interfaces.get(role);
  if (!iface) {
    iface = new Interface(loadArtifact(role).abi);
    interfaces.set(role, iface);
  }
  return iface;
}
