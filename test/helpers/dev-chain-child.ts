/**
 * A development chain in a process of its own, as a second `npm start` would run one:
 * `node --import tsx test/helpers/dev-chain-child.ts`. Prints its RPC URL and deployment as one JSON
 * line once it serves, then serves until killed. (Two development chains in one process are alike
 * block for block, so only another process shows what a user's second chain looks like.)
 */
import { startDevChain } from "../../services/runtime/dev-chain.ts";

const chain = await startDevChain({ host: "127.0.0.1", port: 0 });
console.log(JSON.stringify({ rpcUrl: chain.rpcUrl, deployment: chain.deployment }));
