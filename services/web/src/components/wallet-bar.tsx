import { useMutation } from "@tanstack/preact-query";
import { shortAddress } from "../format.ts";
import { useWallet } from "../wallet/wallet.tsx";
import { Problem } from "./problem.tsx";

/** Wallet choice and state, in the header; the wrong-chain prompt right below it. */
export function WalletBar() {
  const wallet = useWallet();
  const connect = useMutation({ mutationFn: wallet.connect });
  const switchNetwork = useMutation({ mutationFn: wallet.switchNetwork });
  const { connection, chainId, serviceChainId } = wallet;
  const wrongChain = connection && chainId !== undefined && serviceChainId !== undefined && chainId !== serviceChainId;

  return (
    <div class="wallet">
      {connection ? (
        <p class="wallet-state">
          <span title={connection.address}>
            {connection.wallet.name}: <code data-testid="account">{shortAddress(connection.address)}</code>
          </span>{" "}
          <button type="button" class="link" onClick={wallet.disconnect}>
            Disconnect
          </button>
        </p>
      ) : wallet.options.length === 0 ? (
        <p class="wallet-state muted">No browser wallet found: reading works without one.</p>
      ) : (
        <div class="wallet-state">
          {wallet.options.map((option) => (
            <button type="button" key={option.id} disabled={connect.isPending} onClick={() => connect.mutate(option)}>
              {option.icon ? <img src={option.icon} alt="" width={16} height={16} /> : null} Connect {option.name}
            </button>
          ))}
        </div>
      )}
      <Problem error={connect.error} label="Connecting" />
      {wrongChain ? (
        <div class="notice warning" role="alert">
          <strong>
            Your wallet is on chain {chainId}; this service runs on chain {serviceChainId}.
          </strong>{" "}
          <button type="button" disabled={switchNetwork.isPending} onClick={() => switchNetwork.mutate()}>
            Switch network
          </button>
          <Problem error={switchNetwork.error} label="Switching network" />
        </div>
      ) : null}
    </div>
  );
}
