import { getAddress } from "ethers";
import fc from "fast-check";
import t from "tap";
import { contractInterface } from "../../services/chain/artifacts.ts";
import type { Deployment } from "../../services/chain/deployment.ts";
import { decodeLogs } from "../../services/chain/events.ts";

const deployment: Deployment = {
  chainId: 31337,
  contracts: {
    token: getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3"),
    timelock: getAddress("0xe7f1725e7734ce288f8367e1bb143e90bb3f0512"),
    governor: getAddress("0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0"),
    registry: getAddress("0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9"),
    allocator: getAddress("0xdc64a140aa3e981100a9beca4e685f962f0cf6c9"),
  },
  deployBlock: 1,
  deployedAt: "",
};

t.test("the direct VoteCast reader agrees with the generic ABI decoder", async (t) => {
  const governor = contractInterface("governor");
  let runs = 0;
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 20, maxLength: 20 }),
      fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
      fc.integer({ min: 0, max: 2 }),
      fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
      fc.string({ unit: "grapheme", maxLength: 80 }),
      fc.option(fc.uint8Array({ maxLength: 40 })),
      (voterBytes, proposalId, support, weight, reason, params) => {
        const voter = getAddress(`0x${Buffer.from(voterBytes).toString("hex")}`);
        const fragment = governor.getEvent(params ? "VoteCastWithParams" : "VoteCast");
        const values = params
          ? [voter, proposalId, support, weight, reason, params]
          : [voter, proposalId, support, weight, reason];
        const encoded = governor.encodeEventLog(fragment!, values);
        const [event] = decodeLogs(deployment, [
          {
            address: deployment.contracts.governor,
            topics: encoded.topics,
            data: encoded.data,
            blockNumber: 5,
            blockHash: `0x${"ab".repeat(32)}`,
            transactionHash: `0x${"cd".repeat(32)}`,
            index: 0,
          },
        ]);
        runs++;
        return (
          event?.type === "VoteCast" &&
          event.voter === voter &&
          event.proposalId === proposalId &&
          event.support === support &&
          event.weight === weight &&
          event.reason === reason
        );
      },
    ),
    { numRuns: 200 },
  );
  t.equal(runs, 200);
});

t.test("logs of other contracts and unwatched events are skipped", async (t) => {
  const token = contractInterface("token");
  const approval = token.encodeEventLog(token.getEvent("Approval")!, [
    deployment.contracts.token,
    deployment.contracts.governor,
    1n,
  ]);
  const transfer = token.encodeEventLog(token.getEvent("Transfer")!, [
    deployment.contracts.token,
    deployment.contracts.governor,
    7n,
  ]);
  const log = (address: string, encoded: { topics: string[]; data: string }, index: number) => ({
    address,
    ...encoded,
    blockNumber: 9,
    blockHash: `0x${"ab".repeat(32)}`,
    transactionHash: `0x${"cd".repeat(32)}`,
    index,
  });
  const events = decodeLogs(deployment, [
    log(deployment.contracts.token, approval, 0),
    log(deployment.contracts.registry, transfer, 1),
    log(deployment.contracts.token, transfer, 2),
  ]);
  t.same(
    events.map((e) => [e.type, e.logIndex]),
    [["Transfer", 2]],
  );
});
