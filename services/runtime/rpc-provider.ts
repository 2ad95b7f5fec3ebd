import { FetchRequest, type JsonRpcPayload, JsonRpcProvider, type JsonRpcResult } from "ethers";
import type { Metrics } from "../shared/metrics.ts";

/**
 * A JSON-RPC provider for `url` that counts every failed call by method in
 * commons_rpc_errors_total (transport failures and error answers alike).
 */
export function createRpcProvider(url: string, chainId: number | undefined, metrics: Metrics): JsonRpcProvider {
  class MeteredProvider extends JsonRpcProvider {
    override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
      const calls = Array.isArray(payload) ? payload : [payload];
      try {
        const answers = await super._send(payload);
        // Typed as results, but a node's error answers arrive in the same array.
        for (const answer of answers) {
          if ("error" in (answer as object)) {
            const call = calls.find((c) => c.id === answer.id);
            metrics.rpcErrors.inc({ method: call?.method ?? "unknown" });
          }
        }
        return answers;
      } catch (error) {
        for (const call of calls) metrics.rpcErrors.inc({ method: call.method });
        throw error;
      }
    }
  }
  const request = new FetchRequest(url);
  request.timeout = 30_000;
  // Receipts and new blocks are polled; a development chain mines at once, so poll often. No response
  // cache: the relayer's nonce must be read fresh for each transaction it sends.
  return new MeteredProvider(request, chainId, {
    pollingInterval: 250,
    cacheTimeout: -1,
    ...(chainId === undefined ? {} : { staticNetwork: true }),
  });
}
