import t from "tap";
import { GovernanceHelper, policyAction, type Signer } from "../../services/devkit/chain.ts";
import { createApiFixture, dataOf } from "../helpers/graphql.ts";

// ProposalCanceled does not name the canceller: the index reads it from the canceling transaction.
// The development deployment makes the first holder the guardian.
const api = await createApiFixture(t);
const { chain } = api;
const [guardian, proposer] = chain.signers as [Signer, Signer];

const canceled = async (helper: GovernanceHelper) => {
  await api.synced();
  const id = await helper.id();
  return dataOf(await api.gql(`{ proposal(id: "${id}") { state canceledBy history { event by } } }`)).proposal;
};

t.test("a proposal its proposer cancels names the proposer", async (t) => {
  const helper = new GovernanceHelper(chain, [policyAction({ modelId: "withdrawn" })]);
  await helper.propose(proposer);
  // In the next second: still pending, the only time its proposer may cancel.
  await helper.cancel(proposer);
  t.same(await canceled(helper), {
    state: "CANCELED",
    canceledBy: proposer.address,
    history: [
      { event: "CREATED", by: null },
      { event: "CANCELED", by: proposer.address },
    ],
  });
});

t.test("a proposal the guardian cancels while it is voted on names the guardian", async (t) => {
  t.equal(await chain.contract("governor").proposalGuardian(), guardian.address);
  const helper = new GovernanceHelper(chain, [policyAction({ modelId: "braked" })]);
  await helper.propose(proposer);
  await helper.waitForSnapshot();
  await api.synced();
  t.same(dataOf(await api.gql(`{ proposal(id: "${await helper.id()}") { canceledBy } }`)).proposal, {
    canceledBy: null,
  });
  await helper.cancel(guardian);
  t.same(await canceled(helper), {
    state: "CANCELED",
    canceledBy: guardian.address,
    history: [
      { event: "CREATED", by: null },
      { event: "CANCELED", by: guardian.address },
    ],
  });
});
