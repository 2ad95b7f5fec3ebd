import { Contract, JsonRpcProvider, Wallet } from "ethers";
import { network } from "hardhat";
import { loadArtifact } from "../chain/artifacts.ts";
import { deploySystem, devDeployConfig, eip1193 } from "../chain/deploy.ts";
import type { Deployment } from "../chain/deployment.ts";
import { type DevAccount, hardhatAccounts } from "./dev-accounts.ts";
import { assertPortFree } from "./port.ts";

/** Development accounts that receive governance tokens and delegate them to themselves. */
const HOLDERS = 5;
/** The development account that relays castVoteBySig ballots (holds ETH for gas, no tokens). */
const RELAYER_INDEX = 19;
/** The development account that anchors usage receipts (the usage anchor's first anchorer, ANCHOR_PRIVATE_KEY's default). */
const ANCHORER_INDEX = 18;

export interface DevChain {
  rpcUrl: string;
  deployment: Deployment;
  /** Accounts holding `tokensPerHolder` governance tokens each, delegated to themselves. */
  holders: DevAccount[];
  tokensPerHolder: bigint;
  relayer: DevAccount;
  anchorer: DevAccount;
  close(): Promise<void>;
}

/**
 * Hardhat's in-process EVM served over JSON-RPC on `host:port` (port 0: any free port), with the whole
 * system deployed by account #0 and the first accounts holding delegated governance tokens. The chain
 * lives in memory: it starts at block 0 every time.
 */
export async function startDevChain(o: { host: string; port: number }): Promise<DevChain> {
  // Hardhat's server reports a taken port as an unhandled 'error' event that ends the process, so the
  // port is tried first, to fail with a message that says what to do.
  await assertPortFree(o.host, o.port, "RPC_PORT", "or RPC_URL to use a running chain");
  const server = await network.createServer("default", o.host, o.port);
  const address = await server.listen();
  const rpcUrl = `http://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`;
  const provider = new JsonRpcProvider(rpcUrl, undefined, { pollingInterval: 50, cacheTimeout: -1 });
  try {
    const accounts = hardhatAccounts(RELAYER_INDEX + 1);
    const holders = accounts.slice(0, HOLDERS);
    const anchorer = accounts[ANCHORER_INDEX] as DevAccount;
    const config = { ...devDeployConfig(holders.map((h) => h.address)), anchorer: anchorer.address };
    // The chain holds the development keys: account #0 deploys.
    const deployment = await deploySystem({ provider: eip1193(provider), pollIntervalMs: 50 }, config);
    const { abi } = loadArtifact("token");
    for (const holder of holders) {
      const token = new Contract(deployment.contracts.token, abi, new Wallet(holder.privateKey, provider));
      await (await token.getFunction("delegate")(holder.address)).wait();
    }
    return {
      rpcUrl,
      deployment,
      holders,
      tokensPerHolder: config.holders[0]?.amount ?? 0n,
      relayer: accounts[RELAYER_INDEX] as DevAccount,
      anchorer,
      close: () => server.close(),
    };
  } catch (error) {
    await server.close();
    throw error;
  } finally {
    provider.destroy();
  }
}
