import { JsonRpcProvider, type Wallet } from "ethers";
import type { Deployment } from "../chain/deployment.ts";
import { createGraphqlClient, type GraphqlClient } from "./graphql-client.ts";
import { fetchDeployment } from "./service.ts";
import { loadWallet } from "./wallet.ts";

export interface GlobalOptions {
  url: string;
  rpc: string;
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
  deployment(): Promise<Deployment>;
  provider(): JsonRpcProvider;
  /** The signing wallet, connected to --rpc. */
  wallet(): Promise<Wallet>;
  /** Prints `data` as JSON with --json, else the human lines. */
  print(data: unknown, human: () => string): void;
  /** Tells what a long command is doing, on stderr (never part of its result). */
  progress(line: string): void;
  close(): void;
}

export function createCliContext(options: () => GlobalOptions, env: NodeJS.ProcessEnv, output: Output): CliContext {
  let provider: JsonRpcProvider | undefined;
  let deployment: Promise<Deployment> | undefined;
  const getProvider = () => {
    provider ??= new JsonRpcProvider(options().rpc, undefined, { cacheTimeout: -1, pollingInterval: 250 });
    return provider;
  };
  return {
    options,
    env,
    client: (apiKey) => createGraphqlClient(options().url, apiKey ? { apiKey } : {}),
    deployment() {
      deployment ??= fetchDeployment(options().url);
      return deployment;
    },
    provider: getProvider,
    async wallet() {
      return (await loadWallet(env, options().keystore)).connect(getProvider());
    },
    print(data, human) {
      output.out(options().json ? JSON.stringify(data, null, 2) : human());
    },
    progress(line) {
      output.err(line);
    },
    close() {
      provider?.destroy();
    },
  };
}
