import t from "tap";
import { createChain, GovernanceHelper, policyAction, Vote } from "../helpers/chain.ts";

t.test("a policy passes the whole lifecycle", async (t) => {
  const chain = await createChain();
  t.teardown(() => chain.close());
  const helper = new GovernanceHelper(chain, [policyAction()]);
  await helper.propose();
  await helper.waitForSnapshot();
  await helper.vote(chain.signers[0]!, Vote.For);
  await helper.waitForDeadline();
  await helper.queue();
  await helper.waitForEta();
  await helper.execute();
  const policy = await chain.contract("registry").getPolicy("commons-dev-1");
  t.equal(policy.version, 1n);
  t.equal(policy.rules.maxTokensPerRequest, 512n);
});
