import { JsonRpcProvider } from "ethers";
import t from "tap";
import { encodeAction } from "../../services/chain/actions.ts";
import { createForkSimulator } from "../../services/chain/fork-simulation.ts";
import { startDevChain } from "../../services/runtime/dev-chain.ts";
import { createRpcProxy } from "../helpers/rpc-proxy.ts";

const chain = await startDevChain({ host: "127.0.0.1", port: 0 });
t.teardown(() => chain.close());
const { deployment } = chain;
const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { cacheTimeout: -1 });
t.teardown(() => provider.destroy());

// An RPC endpoint in front of the chain that stops answering while `hung` is set, or answers every call
// with an error while `broken` is.
const state = { hung: false, broken: false };
const proxy = await createRpcProxy({
  send: (method, params) => {
    if (state.broken) return Promise.reject(new Error(`${method} is not available here`));
    return state.hung ? new Promise(() => {}) : provider.send(method, params);
  },
  faultRate: 0,
});
t.teardown(() => proxy.close());

const calls = [encodeAction(deployment.contracts, { kind: "SUSPEND_MODEL", modelId: "never-set", reason: "review" })];
const simulatorOn = (rpcUrl: string, timeoutMs: number) =>
  createForkSimulator({ rpcUrl, deployment, blockNumber: () => provider.getBlockNumber(), timeoutMs });

t.test("a fork that does not answer in time is a SIMULATION_TIMEOUT, and frees the simulator", async (t) => {
  const simulator = simulatorOn(proxy.url, 5_000);
  state.hung = true;
  const first = simulator.simulate({ key: "hung-1", calls, modelIds: [] });
  const queued = simulator.simulate({ key: "hung-2", calls, modelIds: [] });
  await t.rejects(first, { code: "SIMULATION_TIMEOUT" });
  await t.rejects(queued, { code: "SIMULATION_TIMEOUT" }, "the one waiting behind it times out too");
  state.hung = false;
  const after = await simulator.simulate({ key: "answered", calls, modelIds: [] });
  t.equal(after.executes, false, "the next one runs: the stuck fork no longer holds the slot");
  t.equal(after.calls[0]?.error?.name, "RegistryUnknownModel");
});

t.test("a chain that cannot be forked is a SIMULATION_FAILED, and is not kept", async (t) => {
  const simulator = simulatorOn(proxy.url, 60_000);
  state.broken = true;
  t.teardown(() => {
    state.broken = false;
  });
  await t.rejects(simulator.simulate({ key: "broken", calls, modelIds: [] }), { code: "SIMULATION_FAILED" });
  state.broken = false;
  const again = await simulator.simulate({ key: "broken", calls, modelIds: [] });
  t.equal(again.calls[0]?.status, "REVERTED", "tried again once the chain answers, not served from the cache");
});
