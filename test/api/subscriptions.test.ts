import t from "tap";
import { GovernanceHelper, policyAction, type Signer, Vote } from "../../services/devkit/chain.ts";
import { GOVERNANCE_CHANNEL } from "../../services/indexer/notifications.ts";
import { createApiFixture } from "../helpers/graphql.ts";
import { connect, type Message } from "../helpers/ws-client.ts";

t.test("a subscriber receives the vote it caused, and the proposal update", async (t) => {
  const api = await createApiFixture(t, { listen: true });
  const { chain } = api;
  const voter = chain.signers[1] as Signer;
  const helper = new GovernanceHelper(chain, [policyAction({ modelId: "subscribed" })], "watch me");
  await helper.propose();
  await helper.waitForSnapshot();
  await api.synced();
  const proposalId = String(await helper.id());

  const address = api.app.server.address() as { port: number };
  const client = await connect(`ws://127.0.0.1:${address.port}/graphql`);
  t.teardown(() => client.close());
  client.subscribe(
    "votes",
    `subscription { voteCast(proposalId: "${proposalId}") { proposalId voter support weight reason proposal { tally { for voteCount } } } }`,
  );
  client.subscribe("proposal", `subscription { proposalUpdated(id: "${proposalId}") { id state } }`);

  // Subscriptions register asynchronously: announce the (unchanged) proposal until the later one hears
  // it, so the earlier one is listening too before the vote is cast.
  const announce = setInterval(() => {
    void api.database.notify(GOVERNANCE_CHANNEL, JSON.stringify({ type: "proposal", proposalId }));
  }, 50);
  let first: Message;
  try {
    first = await client.next();
  } finally {
    clearInterval(announce);
  }
  t.match(first, {
    type: "next",
    id: "proposal",
    payload: { data: { proposalUpdated: { id: proposalId, state: "ACTIVE" } } },
  });

  const receipt = await helper.vote(voter, Vote.For, "from the subscriber");
  let vote: Message;
  do vote = await client.next();
  while (vote.id !== "votes");
  const weight = String(await chain.contract("token").getVotes(voter.address));
  t.same(vote, {
    type: "next",
    id: "votes",
    payload: {
      data: {
        voteCast: {
          proposalId,
          voter: voter.address,
          support: "FOR",
          weight,
          reason: "from the subscriber",
          proposal: { tally: { for: weight, voteCount: 1 } },
        },
      },
    },
  });
  t.ok(receipt);
});

t.test("subscriptions are held to the same depth and complexity limits, with coded errors", async (t) => {
  const api = await createApiFixture(t, { listen: true });
  const address = api.app.server.address() as { port: number };
  const client = await connect(`ws://127.0.0.1:${address.port}/graphql`);
  t.teardown(() => client.close());

  client.subscribe(
    "costly",
    `subscription { voteCast { proposal { votes(first: 100) { edges { node { proposal { votes(first: 60) { totalCount } } } } } } } }`,
  );
  const costly = await client.next();
  t.equal(costly.type, "error");
  t.equal(costly.payload[0].extensions.code, "QUERY_TOO_COMPLEX");

  client.subscribe(
    "deep",
    `subscription { voteCast { proposal { votes { edges { node { proposal { votes { edges { node { proposal { id } } } } } } } } } } }`,
  );
  const deep = await client.next();
  t.equal(deep.type, "error");
  t.equal(deep.payload[0].extensions.code, "QUERY_TOO_COMPLEX");
  t.match(deep.payload[0].message, /deep/);
});
