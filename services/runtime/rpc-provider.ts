import { FetchRequest, type JsonRpcPayload, JsonRpcProvider, type JsonRpcResult } from "ethers";
import type { Metrics } from "../shared/metrics.ts";
import { redactSecrets, secretsOf } from "../shared/secrets.ts";

/**
 * A JSON-RPC provider for `url` that counts every failed call by method in
 * commons_rpc_errors_total (transport failures and error answers alike). Its errors never carry the
 * URL's path or query (ethers writes the request URL into a failed request's message, and providers
 * put their API keys there), so no message that reaches a log, /readyz or syncStatus does either.
 */
export function createRpcProvider(url: string, chainId: number | undefined, metrics: Metrics): JsonRpcProvider {
  const secrets = secretsOf({ RPC_URL: url });
  const withoutUrl = (error: unknown) => {
    if (error instanceof Error) {
      error.message = redactSecrets(error.message, secrets);
      if (error.stack) error.stack = redactSecrets(error.stack, secrets);
      const info = (error as { info?: Record<string, unknown> }).info;
      if (info && typeof info.requestUrl === "string") info.requestUrl = redactSecrets(info.requestUrl, secrets);
    }
    return error;
  };
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
        throw withoutUrl(error);
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
