import { getBytes, JsonRpcProvider, toQuantity, Wallet } from "ethers";
import type { Page } from "playwright-core";

interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

type Answer = { result: unknown } | { error: RpcError };

/**
 * A browser wallet for tests: an EIP-1193 provider injected into every page and announced by EIP-6963,
 * whose requests are answered here, in Node, by real ethers Wallets (real keys, real signatures) and
 * the real development chain over JSON-RPC. Like a wallet extension, it has its own idea of the chain
 * it is on, and a person behind it who may refuse a request (`refuseNext`).
 */
export class TestWallet {
  readonly accounts: Wallet[];
  private current = 0;
  private connected = false;
  private refusals = 0;
  chainId: number;
  private readonly knownChains: Set<number>;
  private readonly provider: JsonRpcProvider;
  private pages: Page[] = [];

  constructor(
    private readonly rpcUrl: string,
    keys: string[],
    options: { chainId: number },
  ) {
    this.provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 50 });
    this.accounts = keys.map((key) => new Wallet(key, this.provider));
    this.chainId = options.chainId;
    this.knownChains = new Set([options.chainId]);
  }

  get address(): string {
    return (this.accounts[this.current] as Wallet).address;
  }

  /** The person refuses the next `n` requests that need their approval (connect, sign, send). */
  refuseNext(n = 1): void {
    this.refusals = n;
  }

  /** Switches to another of its accounts and tells the open pages (accountsChanged). */
  async use(index: number): Promise<void> {
    this.current = index;
    await this.emit("accountsChanged", [this.address]);
  }

  /** Injects the provider into every page of `page`'s context from now on. */
  async install(page: Page): Promise<void> {
    this.pages.push(page);
    await page.exposeFunction("__commonsWallet", (request: string) => this.answer(request));
    await page.addInitScript({ content: injectedProvider });
  }

  close(): void {
    this.provider.destroy();
  }

  private async emit(event: string, value: unknown): Promise<void> {
    for (const page of this.pages) {
      await page.evaluate(`window.__commonsWalletEmit(${JSON.stringify(event)}, ${JSON.stringify(value)})`);
    }
  }

  private approve(): RpcError | undefined {
    if (this.refusals === 0) return undefined;
    this.refusals -= 1;
    return { code: 4001, message: "User rejected the request." };
  }

  private async answer(request: string): Promise<string> {
    const { method, params } = JSON.parse(request) as { method: string; params: unknown[] };
    let answer: Answer;
    try {
      answer = await this.handle(method, params);
    } catch (error) {
      const e = error as { code?: unknown; message?: string };
      answer = { error: { code: typeof e.code === "number" ? e.code : -32603, message: e.message ?? String(error) } };
    }
    return JSON.stringify(answer);
  }

  private async handle(method: string, params: unknown[]): Promise<Answer> {
    const wallet = this.accounts[this.current] as Wallet;
    switch (method) {
      case "eth_requestAccounts": {
        const refused = this.approve();
        if (refused) return { error: refused };
        this.connected = true;
        return { result: [wallet.address] };
      }
      case "eth_accounts":
        return { result: this.connected ? [wallet.address] : [] };
      case "eth_chainId":
        return { result: toQuantity(this.chainId) };
      case "wallet_switchEthereumChain": {
        const chainId = Number((params[0] as { chainId: string }).chainId);
        if (!this.knownChains.has(chainId))
          return { error: { code: 4902, message: `Unrecognized chain ID ${chainId}` } };
        this.chainId = chainId;
        await this.emit("chainChanged", toQuantity(chainId));
        return { result: null };
      }
      case "wallet_addEthereumChain": {
        const chain = params[0] as { chainId: string; rpcUrls: string[] };
        const rpc = new JsonRpcProvider(chain.rpcUrls[0]);
        try {
          // As wallets do: the RPC URL must serve the chain it is added for.
          const served = Number(await rpc.send("eth_chainId", []));
          if (served !== Number(chain.chainId)) {
            return { error: { code: -32602, message: `${chain.rpcUrls[0]} serves chain ${served}` } };
          }
        } finally {
          rpc.destroy();
        }
        this.knownChains.add(Number(chain.chainId));
        return { result: null };
      }
      case "personal_sign": {
        const refused = this.approve();
        if (refused) return { error: refused };
        return { result: await wallet.signMessage(getBytes(params[0] as string)) };
      }
      case "eth_signTypedData_v4": {
        const refused = this.approve();
        if (refused) return { error: refused };
        const typed = JSON.parse(params[1] as string) as {
          domain: Record<string, unknown>;
          types: Record<string, { name: string; type: string }[]>;
          message: Record<string, unknown>;
        };
        const { EIP712Domain: _, ...types } = typed.types;
        return { result: await wallet.signTypedData(typed.domain, types, typed.message) };
      }
      case "eth_sendTransaction": {
        const refused = this.approve();
        if (refused) return { error: refused };
        const tx = params[0] as { to: string; data?: string; value?: string; gas?: string };
        const sent = await wallet.sendTransaction({
          to: tx.to,
          data: tx.data ?? "0x",
          value: tx.value ?? 0n,
          ...(tx.gas ? { gasLimit: tx.gas } : {}),
        });
        return { result: sent.hash };
      }
      default:
        return this.forward(method, params);
    }
  }

  /** Everything else goes to the chain's JSON-RPC as it is, and its answer (or error) comes back as it is. */
  private async forward(method: string, params: unknown[]): Promise<Answer> {
    const response = await fetch(this.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const body = (await response.json()) as { result?: unknown; error?: RpcError };
    return body.error ? { error: body.error } : { result: body.result ?? null };
  }
}

/**
 * Runs in the page: the EIP-1193 provider, announced as EIP-6963 asks. Plain JavaScript text, so that
 * nothing of the test's own compilation (tsx helpers) leaks into the page.
 */
const injectedProvider = `(() => {
  const listeners = new Map();
  const provider = {
    async request({ method, params }) {
      const answer = JSON.parse(await window.__commonsWallet(JSON.stringify({ method, params: params ?? [] })));
      if (answer.error) throw Object.assign(new Error(answer.error.message), answer.error);
      return answer.result;
    },
    on(event, listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
      return provider;
    },
    removeListener(event, listener) {
      listeners.set(event, (listeners.get(event) ?? []).filter((l) => l !== listener));
      return provider;
    },
  };
  window.__commonsWalletEmit = (event, value) => {
    for (const listener of listeners.get(event) ?? []) listener(value);
  };
  const info = {
    uuid: "5b1f3a0e-6f0c-4c53-9a4e-3c0e7a1d2b9f",
    name: "Test Wallet",
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' fill='%231d4f91'/%3E%3C/svg%3E",
    rdns: "org.aicommons.testwallet",
  };
  const announce = () =>
    window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();`;
