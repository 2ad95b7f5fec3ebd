import type { JsonRpcProvider, Wallet } from "ethers";
import type { PublishedDeployment } from "../chain/deployment.ts";
import { createGraphqlClient, type GraphqlClient } from "./graphql-client.ts";
import { connectChain, fetchDeployment } from "./service.ts";
import { loadWallet } from "./wallet.ts";

export interface GlobalOptions {
  url: string;
  /** Unset: the JSON-RPC URL the service publishes. */
  rpc?: string;
  json: boolean;
  keystore?: string;
}

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** What every command needs, made lazily from the global options so that a read needs no key. */
export interface CliContext {
  options(): GlobalOptions;
  env: NodeJS.ProcessEnv;
  client(apiKey?: string): GraphqlClient;
  deployment(): Promise<PublishedDeployment>;
  /** The service's chain (--rpc, or the URL it publishes), checked to be the one it indexes. */
  provider(): Promise<JsonRpcProvider>;
  /** The signing wallet, connected to provider(). */
  wallet(): Promise<Wallet>;
  /** The signing key alone, connected to nothing (for `deploy`, which runs before any service does). */
  signer(): Promise<Wallet>;
  /** Prints `data` as JSON with --json, else the human lines. */
  print(data: unknown, human: () => string): void;
  /** Tells what a long command is doing, on stderr (never part of its result). */
  progress(line: string): void;
  close(): void;
}

export function createCliContext(options: () => GlobalOptions, env: NodeJS.ProcessEnv, output: Output): CliContext {
  let provider: Promise<JsonRpcProvider> | undefined;
  let deployment: Promise<PublishedDeployment> | undefined;
  const getDeployment = () => {
    deployment ??= fetchDeployment(options().url);
    return deployment;
  };
  const getProvider = () => {
    provider ??= getDeployment().then(async (d) => (await connectChain(d, options().rpc, options().url)).provider);
    return provider;
  };
  return {
    options,
    env,
    client: (apiKey) => createGraphqlClient(options().url, apiKey ? { apiKey } : {}),
    deployment: getDeployment,
    provider: getProvider,
    async wallet() {
      const wallet = await loadWallet(env, options().keystore);
      return wallet.connect(await getProvider());
    },
    signer: () => loadWallet(env, options().keystore),
    print(data, human) {
      output.out(options().json ? JSON.stringify(data, null, 2) : human());
    },
    progress(line) {
      output.err(line);
    },
    close() {
      provider?.then(
        (p) => p.destroy(),
        () => {},
      );
    },
  };
}
