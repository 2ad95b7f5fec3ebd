import type { JsonRpcSigner } from "ethers";
import { createStore, type EIP1193Provider } from "mipd";
import { type ComponentChildren, createContext } from "preact";
import { useCallback, useContext, useEffect, useMemo, useState } from "preact/hooks";
import { publicRpcUrl } from "../api.ts";
import { useDeployment } from "../deployment.ts";
import { WalletProblem } from "./wallet-problem.ts";

/** A wallet the browser offers: announced by EIP-6963, or the legacy window.ethereum. */
export interface WalletOption {
  id: string;
  name: string;
  icon: string | undefined;
  provider: EIP1193Provider;
}

interface Connection {
  wallet: WalletOption;
  address: string;
}

export interface WalletState {
  options: WalletOption[];
  connection: Connection | undefined;
  /** The chain the wallet is on, once connected. */
  chainId: number | undefined;
  /** The chain the service runs on (GET /deployment). */
  serviceChainId: number | undefined;
  connect(wallet: WalletOption): Promise<void>;
  disconnect(): void;
  switchNetwork(): Promise<void>;
  /** A signer on the service's chain, or a WalletProblem that says what is missing. */
  signer(): Promise<JsonRpcSigner>;
}

const WalletContext = createContext<WalletState | undefined>(undefined);

const LAST_WALLET = "commons.wallet";

declare global {
  interface Window {
    ethereum?: EIP1193Provider;
  }
}

function useWalletOptions(): WalletOption[] {
  const store = useMemo(() => createStore(), []);
  const [announced, setAnnounced] = useState(store.getProviders());
  useEffect(() => {
    const unsubscribe = store.subscribe((details) => setAnnounced(details), { emitImmediately: true });
    return () => {
      unsubscribe();
      store.destroy();
    };
  }, [store]);
  return useMemo(() => {
    const options: WalletOption[] = announced.map((d) => ({
      id: d.info.rdns || d.info.uuid,
      name: d.info.name,
      icon: d.info.icon,
      provider: d.provider,
    }));
    if (options.length === 0 && window.ethereum) {
      options.push({ id: "injected", name: "Browser wallet", icon: undefined, provider: window.ethereum });
    }
    return options;
  }, [announced]);
}

const chainIdOf = async (provider: EIP1193Provider) =>
  Number(BigInt(await provider.request({ method: "eth_chainId" })));

// ethers is loaded when a wallet connects, not with the first page (reading needs no wallet).
const loadEthers = () => import("./ethers-signer.ts");

export function WalletProvider({ children }: { children: ComponentChildren }) {
  const options = useWalletOptions();
  const deployment = useDeployment();
  const serviceChainId = deployment.data?.chainId;
  const [connection, setConnection] = useState<Connection>();
  const [chainId, setChainId] = useState<number>();

  const adopt = useCallback(async (wallet: WalletOption, accounts: readonly string[]) => {
    const [account] = accounts;
    if (!account) {
      setConnection(undefined);
      return;
    }
    const { checksummed } = await loadEthers();
    setChainId(await chainIdOf(wallet.provider));
    setConnection({ wallet, address: checksummed(account) });
    localStorage.setItem(LAST_WALLET, wallet.id);
  }, []);

  const connect = useCallback(
    async (wallet: WalletOption) => adopt(wallet, await wallet.provider.request({ method: "eth_requestAccounts" })),
    [adopt],
  );

  // The wallet used last time reconnects without a prompt when it still grants this site its accounts.
  useEffect(() => {
    if (connection) return;
    const last = options.find((o) => o.id === localStorage.getItem(LAST_WALLET));
    if (last) {
      last.provider
        .request({ method: "eth_accounts" })
        .then((accounts: readonly string[]) => adopt(last, accounts))
        .catch(() => undefined);
    }
  }, [options, connection, adopt]);

  useEffect(() => {
    if (!connection) return;
    const { provider } = connection.wallet;
    const onAccounts = (accounts: readonly string[]) => void adopt(connection.wallet, accounts);
    const onChain = (id: string) => setChainId(Number(BigInt(id)));
    provider.on("accountsChanged", onAccounts);
    provider.on("chainChanged", onChain);
    return () => {
      provider.removeListener("accountsChanged", onAccounts);
      provider.removeListener("chainChanged", onChain);
    };
  }, [connection, adopt]);

  const switchNetwork = useCallback(async () => {
    if (!connection || serviceChainId === undefined)
      throw new WalletProblem("NOT_CONNECTED", "No wallet is connected.");
    const { provider } = connection.wallet;
    const chain = `0x${serviceChainId.toString(16)}`;
    try {
      await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: chain }] });
    } catch (error) {
      // 4902: the wallet does not know the chain; it can add it when we know a public RPC URL for it.
      if ((error as { code?: number }).code !== 4902) throw error;
      if (!publicRpcUrl) {
        throw new WalletProblem("CHAIN_UNKNOWN", `Your wallet does not know chain ${serviceChainId}.`);
      }
      await provider.request({
        method: "wallet_addEthereumChain",
        params: [
          {
            chainId: chain,
            chainName: `AI Commons development chain (${serviceChainId})`,
            rpcUrls: [publicRpcUrl],
            nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
          },
        ],
      });
      await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: chain }] });
    }
    setChainId(await chainIdOf(provider));
  }, [connection, serviceChainId]);

  const signer = useCallback(async () => {
    if (options.length === 0) throw new WalletProblem("NO_WALLET", "No browser wallet was found.");
    if (!connection) throw new WalletProblem("NOT_CONNECTED", "Connect a wallet first.");
    const current = await chainIdOf(connection.wallet.provider);
    setChainId(current);
    if (current !== serviceChainId) {
      throw new WalletProblem(
        "WRONG_CHAIN",
        `Your wallet is on chain ${current}; this service runs on chain ${serviceChainId}.`,
      );
    }
    const { signerOf } = await loadEthers();
    return signerOf(connection.wallet.provider, current, connection.address);
  }, [options, connection, serviceChainId]);

  const disconnect = useCallback(() => {
    localStorage.removeItem(LAST_WALLET);
    setConnection(undefined);
  }, []);

  const state: WalletState = {
    options,
    connection,
    chainId,
    serviceChainId,
    connect,
    disconnect,
    switchNetwork,
    signer,
  };
  return <WalletContext.Provider value={state}>{children}</WalletContext.Provider>;
}

export function useWallet(): WalletState {
  const state = useContext(WalletContext);
  if (!state) throw new Error("useWallet needs a <WalletProvider>");
  return state;
}
