import { BrowserProvider, Contract } from "ethers";
import { useState } from "preact/hooks";
import { receiptFromJson } from "../../../receipts/encoding.ts";
import { type Verification, verifyReceipt } from "../../../receipts/verify.ts";
import { withBearer } from "../api.ts";
import { useDeployment } from "../deployment.ts";
import { graphql } from "../gql/gql.ts";
import { useWallet } from "../wallet/wallet.tsx";

const RECEIPT = graphql(`
  query WebReceipt($requestId: String!) {
    receipt(requestId: $requestId) {
      salt requestId consumer model policyVersion proposalId admitted reasonCode outcome promptTokens
      completionTokens chargedTokens budgetSource epochStart decidedAt settledAt requestHash responseHash
      sealed leaf period proof
      usagePeriod { root state transaction }
    }
  }
`);

// The one view the page reads from UsageAnchor (contracts/usage): the period's anchored root.
const ANCHOR_OF = [
  "function anchorOf(uint64 period) view returns (tuple(bytes32 root, uint64 count, uint64 anchoredAt, uint128 totalTokens, string uri))",
];

type Status =
  | { kind: "idle" }
  | { kind: "checking" }
  | { kind: "pending"; text: string }
  | { kind: "checked"; verification: Verification; onChain: boolean; transaction: string | null };

/**
 * A call's usage receipt, read with `token` (receipts are private: the consumer's API key or the operator
 * token), checked in the browser: its leaf recomputed from its values and salt, its proof against
 * its period's root, and that root against the one anchored on chain, read through the connected wallet
 * (without a wallet, against the root the service gives, and says so).
 */
export function ReceiptStatus({ requestId, token }: { requestId: string; token: string }) {
  const [status, setStatus] = useState<Status>({ kind: "idle" });
  const wallet = useWallet();
  const deployment = useDeployment();

  async function check() {
    setStatus({ kind: "checking" });
    const { receipt } = await withBearer(token).request(RECEIPT, { requestId });
    if (receipt?.usagePeriod?.state !== "ANCHORED") {
      setStatus({ kind: "pending", text: "not anchored yet" });
      return;
    }
    const { sealed: _sealed, leaf: _leaf, period, proof, usagePeriod, ...values } = receipt;
    let anchoredRoot = usagePeriod.root;
    const connection = wallet.connection;
    const anchor = deployment.data?.usageAnchor;
    const onChain = connection !== undefined && anchor !== undefined && wallet.chainId === wallet.serviceChainId;
    if (onChain) {
      const contract = new Contract(anchor, ANCHOR_OF, new BrowserProvider(connection.wallet.provider));
      anchoredRoot = (await contract.getFunction("anchorOf")(BigInt(period))).root;
    }
    const verification = verifyReceipt({
      receipt: receiptFromJson(values),
      proof: proof ?? [],
      root: usagePeriod.root,
      anchoredRoot,
    });
    setStatus({ kind: "checked", verification, onChain, transaction: usagePeriod.transaction });
  }

  if (status.kind === "idle" || status.kind === "pending") {
    return (
      <button
        type="button"
        class="link"
        onClick={() => check().catch(() => setStatus({ kind: "pending", text: "cannot check now" }))}
      >
        {status.kind === "idle" ? "verify receipt" : `${status.text}: check again`}
      </button>
    );
  }
  if (status.kind === "checking") return <span class="muted">checking…</span>;
  const { verification, onChain } = status;
  return (
    <span
      class={verification.ok ? "admitted" : "refused"}
      data-testid="receipt-status"
      title={status.transaction ?? ""}
    >
      {verification.ok
        ? onChain
          ? "verified against the root on chain"
          : "proof verified (connect a wallet to check the root on chain)"
        : `NOT verified: ${verification.failed}`}
    </span>
  );
}
