import { type Contract, id, Wallet } from "ethers";
import t from "tap";
import type { Action } from "../../services/chain/actions.ts";
import { GovernanceHelper, type Signer, Vote } from "../../services/devkit/chain.ts";
import { createApiFixture, dataOf, TEST_OPERATOR_TOKEN } from "../helpers/graphql.ts";

const TOKENS = 10n ** 18n;

/** A fresh wallet with ETH for gas (and optionally governance tokens from a holder). */
async function fundedWallet(api: Awaited<ReturnType<typeof createApiFixture>>, tokensFrom?: Signer, amount = 0n) {
  const wallet = Wallet.createRandom().connect(api.chain.provider);
  await api.chain.provider.send("hardhat_setBalance", [wallet.address, `0x${(10n ** 20n).toString(16)}`]);
  if (tokensFrom && amount > 0n) {
    await (await (api.chain.contract("token", tokensFrom) as Contract).transfer(wallet.address, amount)).wait();
  }
  return wallet;
}

const proposalFields = `
  id proposer description descriptionHash state kinds voteStart voteEnd eta
  targets values calldatas
  tally { for against abstain voteCount quorum quorumReached majorityFor }
  created { transactionHash blockNumber blockTime }
  history { event blockNumber transactionHash eta }
  actions {
    kind target value calldata
    ... on SetModelPolicyAction { modelId approved maxTokensPerRequest requestsPerMinute allowedPurposes blockedTerms guidelineUri guidelineHash }
    ... on GrantAllocationAction { grantee modelId tokensPerEpoch start end }
    ... on SetCommunityPoolAction { allowancePerAddress poolSizePerEpoch epochLength }
  }
  votes(first: 10) { totalCount edges { node { voter support weight reason transactionHash } } }
`;

const governorStates = ["PENDING", "ACTIVE", "CANCELED", "DEFEATED", "SUCCEEDED", "QUEUED", "EXPIRED", "EXECUTED"];

t.test(
  "draft through GraphQL, sign and send from wallets, vote directly and by signature, queue, execute: the API shows what the chain says",
  async (t) => {
    const relayer = new Wallet(Wallet.createRandom().privateKey);
    const api = await createApiFixture(t, { relayer });
    const { chain } = api;
    await chain.provider.send("hardhat_setBalance", [relayer.address, `0x${(10n ** 20n).toString(16)}`]);
    const [holder0, holder1, holder2] = chain.signers as [Signer, Signer, Signer];
    const proposer = await fundedWallet(api, holder0, 600_000n * TOKENS);
    const gasless = await fundedWallet(api, holder1, 500_000n * TOKENS);
    const token = (runner: Signer | Wallet) => chain.contract("token", runner);
    const governor = chain.contract("governor");

    // The proposer delegates to itself with a signed transaction handed to relayTransaction.
    const delegateTx = await proposer.signTransaction(
      await proposer.populateTransaction({
        to: chain.deployment.contracts.token,
        data: token(proposer).interface.encodeFunctionData("delegate", [proposer.address]),
      }),
    );
    const relayedDelegate = dataOf(
      await api.gql(`mutation($tx: Bytes!) { relayTransaction(signedTransaction: $tx) }`, { tx: delegateTx }),
    );
    t.ok(await chain.provider.getTransactionReceipt(relayedDelegate.relayTransaction), "delegation relayed and mined");
    await (await token(gasless).delegate(gasless.address)).wait();
    await chain.mine();

    const grantee = Wallet.createRandom().address;
    const now = await chain.now();
    const draftVariables = {
      input: {
        description: "Approve commons-dev-1 and fund a research group",
        proposer: proposer.address.toLowerCase(),
        actions: [
          {
            setModelPolicy: {
              modelId: "commons-dev-1",
              approved: true,
              maxTokensPerRequest: 512,
              requestsPerMinute: 60,
              allowedPurposes: ["research"],
              blockedTerms: ["forbidden-term"],
              guidelineUri: "ipfs://guidelines/commons-dev-1",
              guidelineHash: id("guideline commons-dev-1"),
            },
          },
          {
            grantAllocation: {
              grantee: grantee.toLowerCase(),
              modelId: "commons-dev-1",
              tokensPerEpoch: "50000",
              // policyStatus judges by the service's clock (as the gateway does), which the test chain runs ahead of.
              start: Math.min(now, Math.floor(Date.now() / 1000)) - 3600,
              end: now + 365 * 86_400,
            },
          },
          { setCommunityPool: { allowancePerAddress: "3000", poolSizePerEpoch: "2000000", epochLength: 86_400 } },
        ],
      },
    };
    const { draftProposal: draft } = dataOf(
      await api.gql(
        `mutation($input: DraftProposalInput!) { draftProposal(input: $input) {
        proposalId description descriptionHash targets values calldatas
        actions { kind target }
        transaction { to data value chainId } } }`,
        draftVariables,
      ),
    );
    t.equal(draft.description, `${draftVariables.input.description}#proposer=${proposer.address}`);
    t.equal(draft.descriptionHash, id(draft.description));
    t.same(
      draft.actions.map((a: { kind: string }) => a.kind),
      ["SET_MODEL_POLICY", "GRANT_ALLOCATION", "SET_COMMUNITY_POOL"],
    );
    const chainId = String(
      await governor.hashProposal(draft.targets, draft.values, draft.calldatas, draft.descriptionHash),
    );
    t.equal(draft.proposalId, chainId, "proposalId is the governor's hashProposal");
    t.equal(draft.transaction.to, chain.deployment.contracts.governor);
    t.equal(draft.transaction.chainId, chain.deployment.chainId);

    // Front-running protection: someone else cannot propose the proposer-bound description.
    await t.rejects(
      governor.connect(holder2).getFunction("propose")(draft.targets, draft.values, draft.calldatas, draft.description),
      "another account cannot submit a description bound to the proposer",
    );

    // The proposer's wallet signs the drafted transaction; the API relays it.
    const proposeTx = await proposer.signTransaction(
      await proposer.populateTransaction({ to: draft.transaction.to, data: draft.transaction.data, value: 0n }),
    );
    const proposed = dataOf(
      await api.gql(`mutation($tx: Bytes!) { relayTransaction(signedTransaction: $tx) }`, { tx: proposeTx }),
    );
    await api.synced();

    const pending = dataOf(
      await api.gql(`query($id: BigInt!) { proposal(id: $id) { ${proposalFields} } }`, { id: draft.proposalId }),
    );
    t.equal(pending.proposal.proposer, proposer.address);
    t.equal(pending.proposal.state, governorStates[Number(await governor.state(draft.proposalId))]);
    t.same(pending.proposal.targets, draft.targets);
    t.same(pending.proposal.calldatas, draft.calldatas);
    t.same(pending.proposal.actions[0], {
      kind: "SET_MODEL_POLICY",
      target: chain.deployment.contracts.registry,
      value: "0",
      calldata: draft.calldatas[0],
      ...draftVariables.input.actions[0]?.setModelPolicy,
    });
    t.equal(pending.proposal.actions[1].grantee, grantee, "addresses come back checksummed");
    t.equal(pending.proposal.actions[2].allowancePerAddress, "3000");
    t.equal(pending.proposal.voteStart, Number(await governor.proposalSnapshot(draft.proposalId)));

    // Vote: the proposer directly with a reason, the gasless wallet by signature, a holder against.
    const helper = new GovernanceHelper(
      chain,
      draftVariables.input.actions.map((a) => {
        const [kind, fields] = Object.entries(a)[0] as [string, Record<string, unknown>];
        const kinds: Record<string, Action["kind"]> = {
          setModelPolicy: "SET_MODEL_POLICY",
          grantAllocation: "GRANT_ALLOCATION",
          setCommunityPool: "SET_COMMUNITY_POOL",
        };
        return { kind: kinds[kind], ...fields } as Action;
      }),
      draft.description,
    );
    t.equal(String(await helper.id()), draft.proposalId);
    await helper.waitForSnapshot();
    await (
      await governor.connect(proposer).getFunction("castVoteWithReason")(draft.proposalId, Vote.For, "ship it")
    ).wait();
    const ballot = await helper.signBallot(gasless, Vote.For);
    const relayed = dataOf(
      await api.gql(
        `mutation($id: BigInt!, $voter: Address!, $sig: Bytes!) {
        castVoteBySig(proposalId: $id, support: FOR, voter: $voter, signature: $sig) }`,
        { id: draft.proposalId, voter: gasless.address, sig: ballot.signature },
      ),
    );
    const voteReceipt = await chain.provider.getTransactionReceipt(relayed.castVoteBySig);
    t.equal(voteReceipt?.from, relayer.address, "the relayer paid for the gasless vote");
    t.equal(await governor.hasVoted(draft.proposalId, gasless.address), true);
    await helper.vote(holder2, Vote.Against, "too broad");
    await api.synced();

    const voted = dataOf(
      await api.gql(`query($id: BigInt!) { proposal(id: $id) { ${proposalFields} } }`, { id: draft.proposalId }),
    );
    const [against, forVotes, abstain] = (await governor.proposalVotes(draft.proposalId)) as bigint[];
    const quorum = await governor.quorum(await governor.proposalSnapshot(draft.proposalId));
    t.same(voted.proposal.tally, {
      for: String(forVotes),
      against: String(against),
      abstain: String(abstain),
      voteCount: 3,
      quorum: String(quorum),
      quorumReached: (forVotes as bigint) + (abstain as bigint) >= quorum,
      majorityFor: (forVotes as bigint) > (against as bigint),
    });
    t.equal(voted.proposal.state, "ACTIVE");
    t.equal(voted.proposal.votes.totalCount, 3);
    const votesByVoter = new Map(
      voted.proposal.votes.edges.map((e: { node: { voter: string } }) => [e.node.voter, e.node]),
    );
    t.match(votesByVoter.get(proposer.address), {
      support: "FOR",
      reason: "ship it",
      weight: String(600_000n * TOKENS),
    });
    t.match(votesByVoter.get(gasless.address), { support: "FOR", transactionHash: relayed.castVoteBySig });
    t.match(votesByVoter.get(holder2.address), { support: "AGAINST", reason: "too broad" });

    const byVoter = dataOf(
      await api.gql(
        `query($v: Address!) { votes(filter: { voter: $v }) { totalCount edges { node { proposalId support } } } }`,
        {
          v: gasless.address.toLowerCase(),
        },
      ),
    );
    t.same(byVoter.votes, { totalCount: 1, edges: [{ node: { proposalId: draft.proposalId, support: "FOR" } }] });

    await helper.waitForDeadline();
    await api.synced();
    const succeeded = dataOf(
      await api.gql(`{ proposals(filter: { state: [SUCCEEDED] }) { totalCount edges { node { id state } } } }`),
    );
    t.same(succeeded.proposals.edges, [{ node: { id: draft.proposalId, state: "SUCCEEDED" } }]);
    t.equal(governorStates[Number(await governor.state(draft.proposalId))], "SUCCEEDED");

    const queued = await helper.queue();
    await helper.waitForEta();
    const executed = await helper.execute();
    await api.indexer.waitForBlock(executed?.blockNumber);

    const done = dataOf(
      await api.gql(
        `query($id: BigInt!, $grantee: Address!) {
        proposal(id: $id) { state eta history { event blockNumber transactionHash eta } }
        proposals(filter: { kind: [GRANT_ALLOCATION], proposer: "${proposer.address}" }) { totalCount }
        policy(model: "commons-dev-1") { current { version approved maxTokensPerRequest enactedBy { proposalId transactionHash blockNumber } } history { version } }
        policies { edges { node { modelId current { version } } } }
        allocations(grantee: $grantee) { totalCount edges { node { grantee modelId tokensPerEpoch revoked enactedBy { proposalId } } }
          communityPool { allowancePerAddress poolSizePerEpoch enactedBy { proposalId } } }
        delegates(first: 10) { totalCount edges { node { address votingPower } } }
        syncStatus { indexedBlock chainHead lag lastError }
        policyStatus(model: "commons-dev-1", consumer: $grantee, purpose: "research") {
          admitted reason policy { version enactedBy { proposalId } } budgets { source granted used left } }
      }`,
        { id: draft.proposalId, grantee },
        // The budget is the grantee's own: the operator reads it.
        { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` },
      ),
    );
    t.equal(done.proposal.state, "EXECUTED");
    t.equal(governorStates[Number(await governor.state(draft.proposalId))], "EXECUTED");
    t.equal(done.proposal.eta, Number(await governor.proposalEta(draft.proposalId)));
    t.same(
      done.proposal.history.map((h: { event: string; transactionHash: string }) => [h.event, h.transactionHash]),
      [
        ["CREATED", proposed.relayTransaction],
        ["QUEUED", queued?.hash],
        ["EXECUTED", executed?.hash],
      ],
    );
    t.equal(pending.proposal.created.transactionHash, proposed.relayTransaction);
    t.equal(done.proposals.totalCount, 1);
    t.match(done.policy.current, {
      version: 1,
      approved: true,
      maxTokensPerRequest: 512,
      enactedBy: { proposalId: draft.proposalId, transactionHash: executed?.hash, blockNumber: executed?.blockNumber },
    });
    t.same(done.policies.edges, [{ node: { modelId: "commons-dev-1", current: { version: 1 } } }]);
    t.same(done.allocations.edges, [
      {
        node: {
          grantee,
          modelId: "commons-dev-1",
          tokensPerEpoch: "50000",
          revoked: false,
          enactedBy: { proposalId: draft.proposalId },
        },
      },
    ]);
    t.same(done.allocations.communityPool, {
      allowancePerAddress: "3000",
      poolSizePerEpoch: "2000000",
      enactedBy: { proposalId: draft.proposalId },
    });
    for (const edge of done.delegates.edges as { node: { address: string; votingPower: string } }[]) {
      t.equal(
        edge.node.votingPower,
        String(await token(holder0).getVotes(edge.node.address)),
        `power of ${edge.node.address}`,
      );
    }
    const powers = done.delegates.edges.map((e: { node: { votingPower: string } }) => BigInt(e.node.votingPower));
    t.same(
      powers,
      [...powers].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)),
      "delegates strongest first",
    );
    t.equal(done.syncStatus.lag, 0);
    t.equal(done.syncStatus.lastError, null);
    t.match(done.policyStatus, {
      admitted: true,
      reason: null,
      policy: { version: 1, enactedBy: { proposalId: draft.proposalId } },
    });
    t.match(done.policyStatus.budgets[0], { source: "grant", granted: "50000", used: "0", left: "50000" });
    t.match(done.policyStatus.budgets[1], { source: "pool", granted: "3000" });
  },
);
