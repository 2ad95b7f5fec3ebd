import { spawn } from "node:child_process";
import { JsonRpcProvider } from "ethers";
import t from "tap";
import { until } from "../../services/devkit/until.ts";
import { apiKeyFor, build, proposeDraft } from "../helpers/app.ts";
import { policyAction, subscribe } from "./notify.ts";
import { startReceiver } from "./receiver.ts";

const script = new URL("./deliverer-process.ts", import.meta.url).pathname;

t.test(
  "kill -9 of the delivering replica and a reorg: nothing lost, and what was rolled back is corrected",
  async (t) => {
    const receiver = await startReceiver();
    t.teardown(receiver.close);
    const service = await build(t, { env: { NOTIFY_ALLOW_LOOPBACK: "true", NOTIFY_RETRY_BASE_MS: "50" } });
    const notifications = service.notifications;
    if (!notifications) throw new Error("notifications are on by default");
    const { key } = await apiKeyFor(service, 0);
    const sub = await subscribe(service, key, { channel: "WEBHOOK", target: receiver.url });
    receiver.secrets = [sub.secret];

    // Replica A (a child process) leads; this process's deliverer waits as a follower.
    await notifications.deliverer.stop();
    const { deployment } = service.deps;
    const lock = `commons-notifications:${deployment.chainId}:${deployment.contracts.governor}`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", script, service.deps.config.DATABASE_URL as string, lock],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    t.teardown(() => child.kill("SIGKILL"));
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (chunk) => String(chunk).includes("leader") && resolve());
      child.on("exit", () => reject(new Error("the delivering replica exited before leading")));
    });
    notifications.deliverer.start();
    t.notOk(notifications.deliverer.isLeader(), "this replica follows while A leads");

    const proposals: string[] = [];
    proposals.push(await proposeDraft(service, [policyAction("kill-0")]));
    await until(() => (receiver.events.length >= 1 ? true : undefined), "A to deliver");
    child.kill("SIGKILL");
    for (let i = 1; i < 4; i++) proposals.push(await proposeDraft(service, [policyAction(`kill-${i}`)]));
    await until(() => (notifications.deliverer.isLeader() ? true : undefined), "this replica to take over");

    // A reorg: a proposal is indexed and announced, then its block is replaced by another branch.
    const provider = new JsonRpcProvider(service.urls.rpc, undefined, { cacheTimeout: -1 });
    t.teardown(() => provider.destroy());
    const snapshot = await provider.send("evm_snapshot", []);
    const orphan = await proposeDraft(service, [policyAction("orphan")]);
    const orphanEvents = () =>
      receiver.events.filter((e) => e.data.proposalId === orphan && e.type !== "event.retracted");
    await until(() => (orphanEvents().length >= 1 ? true : undefined), "the orphan's events");
    await provider.send("evm_revert", [snapshot]);
    proposals.push(await proposeDraft(service, [policyAction("after-reorg")]));

    const corrections = () => receiver.events.filter((e) => e.type === "event.retracted");
    const corrected = (id: string) => corrections().some((c) => c.data.retracts === id);
    await until(
      () => (orphanEvents().every((e) => corrected(e.id)) ? true : undefined),
      "a correction for every event of the replaced blocks",
    );
    // Milestones of other proposals that fell on the replaced blocks are corrected too, and sent again
    // from the new branch.
    t.ok(orphanEvents().length >= 1);
    for (const c of corrections()) {
      const index = receiver.events.indexOf(c);
      const original = receiver.events.findIndex((e) => e.id === c.data.retracts);
      t.ok(original >= 0 && original < index, "the correction follows the event it corrects");
    }

    await until(
      () =>
        proposals.every((id) => receiver.events.some((e) => e.type === "proposal.created" && e.data.proposalId === id))
          ? true
          : undefined,
      "every proposal's creation, across the kill",
    );
    for (const id of proposals) {
      const types = receiver.events.filter((e) => e.data.proposalId === id).map((e) => e.type);
      t.equal(types[0], "proposal.created", `proposal ${id.slice(0, 8)}: created first, once`);
      t.equal(types.filter((x) => x === "proposal.created").length, 1);
    }
    t.equal(receiver.rejected, 0);
    t.comment(`re-deliveries the receiver de-duplicated: ${receiver.duplicates}`);
  },
);
