import { type Contract, id, Wallet } from "ethers";
import Fastify from "fastify";
import { SiweMessage } from "siwe";
import t from "tap";
import apiPlugin from "../../services/api/plugin.ts";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { GovernanceHelper, policyAction, revertOf, type Signer, Vote } from "../../services/devkit/chain.ts";
import { codesOf, createApiFixture, dataOf, TEST_OPERATOR_TOKEN, TEST_SIWE_DOMAIN } from "../helpers/graphql.ts";

const relayer = new Wallet(Wallet.createRandom().privateKey);
const api = await createApiFixture(t, { relayer });
const { chain } = api;
const [holder0, holder1] = chain.signers as [Signer, Signer];
await chain.provider.send("hardhat_setBalance", [relayer.address, `0x${(10n ** 20n).toString(16)}`]);

async function fundedWallet() {
  const wallet = Wallet.createRandom().connect(chain.provider);
  await chain.provider.send("hardhat_setBalance", [wallet.address, `0x${(10n ** 20n).toString(16)}`]);
  return wallet;
}

const relay = (tx: string) => api.gql(`mutation($tx: Bytes!) { relayTransaction(signedTransaction: $tx) }`, { tx });

/** Drafts bound to holder0 unless the input names another proposer (or `proposer: null`). */
const draft = (input: Record<string, unknown>, headers?: Record<string, string>) =>
  api.gql(
    `mutation($input: DraftProposalInput!) { draftProposal(input: $input) { proposalId description } }`,
    { input: { proposer: holder0.address, ...input } },
    headers,
  );

const policyInput = {
  modelId: "m-1",
  approved: true,
  maxTokensPerRequest: 100,
  requestsPerMinute: 10,
  guidelineUri: "ipfs://g",
  guidelineHash: id("g"),
};

t.test("draftProposal refuses bad actions with BAD_USER_INPUT naming the field", async (t) => {
  const cases: [string, Record<string, unknown>][] = [
    ["no action", { description: "x", actions: [] }],
    ["empty description", { description: " ", actions: [{ setModelPolicy: policyInput }] }],
    [
      "two kinds in one action",
      { description: "x", actions: [{ setModelPolicy: policyInput, suspendModel: { modelId: "m", reason: "r" } }] },
    ],
    [
      "limit out of range",
      { description: "x", actions: [{ setModelPolicy: { ...policyInput, maxTokensPerRequest: 0 } }] },
    ],
    [
      "wrong checksum",
      {
        description: "x",
        actions: [
          {
            grantAllocation: {
              grantee: "0x70997970c51812dc3A010C7d01b50e0d17dc79C8",
              tokensPerEpoch: "1",
              start: 1,
              end: 2,
            },
          },
        ],
      },
    ],
    [
      "epoch end before start",
      {
        description: "x",
        actions: [{ grantAllocation: { grantee: holder1.address, tokensPerEpoch: "1", start: 10, end: 5 } }],
      },
    ],
    [
      "allowance above pool",
      {
        description: "x",
        actions: [{ setCommunityPool: { allowancePerAddress: "10", poolSizePerEpoch: "5", epochLength: 60 } }],
      },
    ],
    ["uint256 overflow", { description: "x", actions: [{ revokeAllocation: { grantId: `1${"0".repeat(78)}` } }] }],
  ];
  for (const [name, input] of cases) {
    const response = await draft(input);
    t.same(codesOf(response), ["BAD_USER_INPUT"], name);
  }
  const field = await draft({
    description: "x",
    actions: [{ setModelPolicy: { ...policyInput, maxTokensPerRequest: 0 } }],
  });
  t.match(field.errors?.[0], { extensions: { index: 0, field: "maxTokensPerRequest" } });

  const ok = dataOf(await draft({ description: "once", actions: [{ setModelPolicy: policyInput }] }));
  const helper = new GovernanceHelper(
    chain,
    [{ kind: "SET_MODEL_POLICY", ...policyInput, allowedPurposes: [], blockedTerms: [] }],
    `once#proposer=${holder0.address}`,
  );
  t.equal(ok.draftProposal.proposalId, String(await helper.id()));
  await helper.propose();
  await api.synced();
  t.same(
    codesOf(await draft({ description: "once", actions: [{ setModelPolicy: policyInput }] })),
    ["BAD_USER_INPUT"],
    "already proposed",
  );
});

t.test("draftProposal binds every draft to its proposer: no one else can propose it first and cancel it", async (t) => {
  await api.synced();
  const actions = [{ suspendModel: { modelId: "bound", reason: "front-run" } }];
  const unbound = await draft({ description: "unbound", actions, proposer: null });
  t.same(codesOf(unbound), ["PROPOSER_REQUIRED"], "neither a proposer nor a signed-in wallet");
  t.match(unbound.errors?.[0], { extensions: { field: "proposer" } });
  const selfBound = await draft({ description: `bound by hand#proposer=${holder1.address}`, actions });
  t.same(codesOf(selfBound), ["BAD_USER_INPUT"], "a description carrying its own suffix");
  t.match(selfBound.errors?.[0], { extensions: { field: "description" } });

  const { key } = await issueApiKey(api.database.db, { address: holder1.address.toLowerCase() });
  const signedIn = dataOf(
    await draft({ description: "signed in", actions, proposer: null }, { authorization: `Bearer ${key}` }),
  );
  t.equal(signedIn.draftProposal.description, `signed in#proposer=${holder1.address}`, "the API key's wallet");

  const bound = dataOf(await draft({ description: "bound", actions })).draftProposal;
  t.equal(bound.description, `bound#proposer=${holder0.address}`);
  const helper = new GovernanceHelper(
    chain,
    [{ kind: "SUSPEND_MODEL", modelId: "bound", reason: "front-run" }],
    bound.description,
  );
  t.equal(String(await helper.id()), bound.proposalId);
  t.same(await revertOf(helper.propose(holder1)), {
    name: "GovernorRestrictedProposer",
    args: [holder1.address],
  });
  await helper.propose(holder0);
  await api.synced();
  const indexed = dataOf(await api.gql(`{ proposal(id: "${bound.proposalId}") { proposer description } }`));
  t.same(indexed.proposal, { proposer: holder0.address, description: bound.description }, "indexed as proposed");
});

t.test("draftProposal refuses a late-quorum extension longer than the voting period", async (t) => {
  await api.synced();
  const period = Number(await chain.contract("governor").votingPeriod());
  const extension = (value: number) => ({
    updateGovernorSetting: { setting: "LATE_QUORUM_EXTENSION", value: String(value) },
  });
  const tooLong = await draft({ description: "too long", actions: [extension(period + 1)] });
  t.same(codesOf(tooLong), ["BAD_USER_INPUT"]);
  t.match(tooLong.errors?.[0], { extensions: { index: 0, field: "value" } });
  dataOf(await draft({ description: "as long as the period", actions: [extension(period)] }));
  const longerPeriod = { updateGovernorSetting: { setting: "VOTING_PERIOD", value: String(period * 2) } };
  dataOf(await draft({ description: "period first", actions: [longerPeriod, extension(period + 1)] }));
});

t.test(
  "draftProposal encodes setPoolEligibility within the allocator's bound, and cannot renounce ownership",
  async (t) => {
    await api.synced();
    const maximum = ((await chain.contract("token").totalSupply()) as bigint) / 10_000n;
    const drafted = dataOf(
      await api.gql(
        `mutation($input: DraftProposalInput!) {
        draftProposal(input: $input) { actions { kind target calldata ... on SetPoolEligibilityAction { minVotes } } }
      }`,
        {
          input: {
            proposer: holder0.address,
            description: "pool minimum",
            actions: [{ setPoolEligibility: { minVotes: String(maximum) } }],
          },
        },
      ),
    );
    const allocator = chain.contract("allocator");
    t.same(drafted.draftProposal.actions, [
      {
        kind: "SET_POOL_ELIGIBILITY",
        target: chain.deployment.contracts.allocator,
        calldata: allocator.interface.encodeFunctionData("setPoolEligibility", [maximum]),
        minVotes: String(maximum),
      },
    ]);
    const tooHigh = await draft({
      description: "above the bound",
      actions: [{ setPoolEligibility: { minVotes: String(maximum + 1n) } }],
    });
    t.same(codesOf(tooHigh), ["BAD_USER_INPUT"], "the allocator would refuse it at execution");
    t.match(tooHigh.errors?.[0], { extensions: { index: 0, field: "minVotes" } });
    const renounce = await draft({ description: "renounce", actions: [{ renounceOwnership: {} }] });
    t.same([...new Set(codesOf(renounce))], ["BAD_USER_INPUT"], "no action renounces the contracts' ownership");
  },
);

t.test("draftProposal drafts the guardian's changes as typed actions, and the index reads them back", async (t) => {
  await api.synced();
  const { governor, registry } = chain.deployment.contracts;
  const fields = `kind target calldata
    ... on SetGuardianAction { guardian }
    ... on SetGuardianSuspensionPeriodAction { period }`;
  const drafted = dataOf(
    await api.gql(
      `mutation($input: DraftProposalInput!) { draftProposal(input: $input) { proposalId actions { ${fields} } } }`,
      {
        input: {
          proposer: holder0.address,
          description: "a new guardian with a shorter brake",
          actions: [{ setGuardian: { guardian: holder1.address } }, { setGuardianSuspensionPeriod: { period: 7200 } }],
        },
      },
    ),
  ).draftProposal;
  const expected = [
    {
      kind: "SET_GUARDIAN",
      target: governor,
      calldata: chain.contract("governor").interface.encodeFunctionData("setProposalGuardian", [holder1.address]),
      guardian: holder1.address,
    },
    {
      kind: "SET_GUARDIAN_SUSPENSION_PERIOD",
      target: registry,
      calldata: chain.contract("registry").interface.encodeFunctionData("setGuardianSuspensionPeriod", [7200]),
      period: 7200,
    },
  ];
  t.same(drafted.actions, expected);
  const helper = new GovernanceHelper(
    chain,
    [
      { kind: "SET_GUARDIAN", guardian: holder1.address },
      { kind: "SET_GUARDIAN_SUSPENSION_PERIOD", period: 7200 },
    ],
    `a new guardian with a shorter brake#proposer=${holder0.address}`,
  );
  t.equal(String(await helper.id()), drafted.proposalId);
  await helper.propose(holder0);
  await api.synced();
  const indexed = dataOf(
    await api.gql(`{ proposal(id: "${drafted.proposalId}") { kinds actions { ${fields} } } }`),
  ).proposal;
  t.same(indexed, { kinds: ["SET_GUARDIAN", "SET_GUARDIAN_SUSPENSION_PERIOD"], actions: expected });

  const removal = await draft({
    description: "no guardian",
    actions: [{ setGuardian: { guardian: "0x0000000000000000000000000000000000000000" } }],
  });
  t.ok(removal.data?.draftProposal, "the zero address removes the guardian");
  for (const [period, name] of [
    [3599, "below an hour"],
    [30 * 86_400 + 1, "above 30 days"],
  ] as const) {
    const refused = await draft({ description: name, actions: [{ setGuardianSuspensionPeriod: { period } }] });
    t.same(codesOf(refused), ["BAD_USER_INPUT"], name);
    t.match(refused.errors?.[0], { extensions: { index: 0, field: "period" } }, name);
  }
});

t.test(
  "relayTransaction relays only signed calls of allowed methods to our governor or token on our chain",
  async (t) => {
    const wallet = await fundedWallet();
    const token = chain.contract("token", wallet) as Contract;
    const delegateData = token.interface.encodeFunctionData("delegate", [wallet.address]);
    const sign = async (overrides: Record<string, unknown>) => {
      const populated = await wallet.populateTransaction({ to: chain.deployment.contracts.token, data: delegateData });
      return wallet.signTransaction({ ...populated, ...overrides });
    };

    const wrongChain = await relay(await sign({ chainId: 1n }));
    t.same(codesOf(wrongChain), ["BAD_USER_INPUT"]);
    t.equal(wrongChain.errors?.[0]?.extensions.reason, "WRONG_CHAIN");

    const foreign = await relay(await sign({ to: chain.deployment.contracts.registry }));
    t.same(codesOf(foreign), ["FORBIDDEN"]);
    t.equal(foreign.errors?.[0]?.extensions.reason, "FOREIGN_CONTRACT");

    const elsewhere = await relay(await sign({ to: Wallet.createRandom().address }));
    t.equal(elsewhere.errors?.[0]?.extensions.reason, "FOREIGN_CONTRACT");

    const transfer = await relay(
      await sign({ data: token.interface.encodeFunctionData("transfer", [holder0.address, 1n]) }),
    );
    t.same(codesOf(transfer), ["FORBIDDEN"]);
    t.equal(transfer.errors?.[0]?.extensions.reason, "METHOD_NOT_ALLOWED");

    const withValue = await relay(await sign({ value: 1n }));
    t.same(codesOf(withValue), ["BAD_USER_INPUT"]);

    const unsigned = await wallet.populateTransaction({ to: chain.deployment.contracts.token, data: delegateData });
    const { Transaction } = await import("ethers");
    t.same(codesOf(await relay(Transaction.from({ ...unsigned, from: undefined } as never).unsignedSerialized)), [
      "BAD_USER_INPUT",
    ]);
    t.same(codesOf(await relay("0xdeadbeef")), ["BAD_USER_INPUT"]);

    const good = dataOf(await relay(await sign({})));
    t.ok(await chain.provider.getTransactionReceipt(good.relayTransaction));
    t.equal(await token.delegates(wallet.address), wallet.address);
    const replay = await relay(await sign({ nonce: 0 }));
    t.equal(replay.errors?.[0]?.extensions.reason, "REJECTED_BY_NODE", "a replayed nonce is refused by the node");
  },
);

t.test("castVoteBySig checks the ballot before relaying it", async (t) => {
  const helper = new GovernanceHelper(chain, [policyAction({ modelId: "vote-by-sig" })], "vote by signature");
  const castBySig = (b: { voter: string; signature: string }, extra: Record<string, unknown> = {}) =>
    api.gql(
      `mutation($id: BigInt!, $voter: Address!, $sig: Bytes!, $reason: String) {
        castVoteBySig(proposalId: $id, support: FOR, voter: $voter, signature: $sig, reason: $reason) }`,
      { id: String(extra.id ?? proposalId), voter: b.voter, sig: b.signature, reason: extra.reason ?? null },
    );
  await helper.propose();
  const proposalId = await helper.id();

  const early = await helper.signBallot(holder0, Vote.For);
  const notActive = await castBySig(early);
  t.equal(notActive.errors?.[0]?.extensions.reason, "NOT_ACTIVE", "pending proposal");
  t.same(codesOf(await castBySig(early, { id: 12345n })), ["NOT_FOUND"]);

  await helper.waitForSnapshot();
  const ballot = await helper.signBallot(holder0, Vote.For);
  const forged = await castBySig({ voter: holder1.address, signature: ballot.signature });
  t.same(codesOf(forged), ["BAD_USER_INPUT"]);
  t.equal(forged.errors?.[0]?.extensions.reason, "BAD_SIGNATURE", "signed by someone else");
  t.equal(
    (await castBySig({ voter: holder0.address, signature: "0x1234" })).errors?.[0]?.extensions.reason,
    "BAD_SIGNATURE",
    "malformed signature",
  );
  t.equal(
    (await castBySig(ballot, { reason: "a reason the signature does not cover" })).errors?.[0]?.extensions.reason,
    "BAD_SIGNATURE",
    "a reason changes the signed ballot",
  );

  const powerless = await fundedWallet();
  const noPower = await castBySig(await helper.signBallot(powerless, Vote.For));
  t.equal(noPower.errors?.[0]?.extensions.reason, "NO_VOTING_POWER");

  const { castVoteBySig: hash } = dataOf(await castBySig(ballot));
  t.equal((await chain.provider.getTransactionReceipt(hash))?.status, 1);
  const again = await castBySig(await helper.signBallot(holder0, Vote.For));
  t.same(codesOf(again), ["BAD_USER_INPUT"]);
  t.equal(again.errors?.[0]?.extensions.reason, "ALREADY_VOTED");

  // An extended ballot (with a reason) is relayed through castVoteWithReasonAndParamsBySig.
  const { signature } = await helper.signBallot(holder1, Vote.For, "signed reason");
  dataOf(await castBySig({ voter: holder1.address, signature }, { reason: "signed reason" }));
  await api.synced();
  const votes = dataOf(
    await api.gql(`query($v: Address!) { votes(filter: { voter: $v }) { edges { node { reason } } } }`, {
      v: holder1.address,
    }),
  );
  t.same(votes.votes.edges, [{ node: { reason: "signed reason" } }]);

  // The same API without a relayer key says so.
  const bare = Fastify({ logger: false });
  await bare.register(apiPlugin, { deps: api.deps });
  t.teardown(() => bare.close());
  const response = await bare.inject({
    method: "POST",
    url: "/graphql",
    payload: {
      query: `mutation { castVoteBySig(proposalId: "${proposalId}", support: FOR, voter: "${holder0.address}", signature: "${ballot.signature}") }`,
    },
  });
  t.same(
    response.json().errors.map((e: { extensions: { code: string } }) => e.extensions.code),
    ["RELAYER_NOT_CONFIGURED"],
  );
});

t.test("delegateBySig relays a signed delegation once, for a holder without ETH", async (t) => {
  const holder = Wallet.createRandom().connect(chain.provider);
  await (await (chain.contract("token", holder1) as Contract).transfer(holder.address, 10n ** 18n)).wait();
  const token = chain.contract("token");
  const expiry = BigInt(await chain.now()) + 3_600n;
  const sign = async (nonce: bigint, at = expiry) =>
    holder.signTypedData(
      {
        name: await token.name(),
        version: "1",
        chainId: chain.deployment.chainId,
        verifyingContract: token.target as string,
      },
      {
        Delegation: [
          { name: "delegatee", type: "address" },
          { name: "nonce", type: "uint256" },
          { name: "expiry", type: "uint256" },
        ],
      },
      { delegatee: holder.address, nonce, expiry: at },
    );
  const delegate = (signature: string, nonce = 0n, at = expiry, delegator = holder.address) =>
    api.gql(
      `mutation($from: Address!, $to: Address!, $nonce: BigInt!, $expiry: BigInt!, $sig: Bytes!) {
        delegateBySig(delegator: $from, delegatee: $to, nonce: $nonce, expiry: $expiry, signature: $sig) }`,
      { from: delegator, to: holder.address, nonce: String(nonce), expiry: String(at), sig: signature },
    );
  const reasonOf = (r: Awaited<ReturnType<typeof delegate>>) => r.errors?.[0]?.extensions.reason;
  const signature = await sign(0n);
  t.equal(reasonOf(await delegate(signature, 0n, expiry, holder0.address)), "BAD_SIGNATURE", "someone else's name");
  const past = BigInt(await chain.now()) - 1n;
  t.equal(reasonOf(await delegate(await sign(0n, past), 0n, past)), "EXPIRED");
  const { delegateBySig: hash } = dataOf(await delegate(signature));
  t.equal((await chain.provider.getTransactionReceipt(hash))?.status, 1);
  t.equal(await token.delegates(holder.address), holder.address);
  t.equal(await chain.provider.getBalance(holder.address), 0n, "the holder paid no gas");
  t.equal(reasonOf(await delegate(signature)), "BAD_NONCE", "a replay is refused before it costs gas");
});

t.test(
  "Sign-In with Ethereum issues a key once per nonce, for this domain and chain, within the message's time",
  async (t) => {
    const wallet = Wallet.createRandom();
    const nonce = async () =>
      dataOf(await api.gql(`mutation { siweNonce { nonce domain chainId expiresAt } }`)).siweNonce;
    const message = (fields: Partial<ConstructorParameters<typeof SiweMessage>[0] & object>) =>
      new SiweMessage({
        domain: TEST_SIWE_DOMAIN,
        address: wallet.address,
        statement: "Sign in to AI Commons",
        uri: `https://${TEST_SIWE_DOMAIN}`,
        version: "1",
        chainId: chain.deployment.chainId,
        issuedAt: new Date().toISOString(),
        expirationTime: new Date(Date.now() + 5 * 60_000).toISOString(),
        ...fields,
      }).prepareMessage();
    const signIn = async (text: string, signer: Pick<Wallet, "signMessage"> = wallet) =>
      api.gql(
        `mutation($m: String!, $s: Bytes!) { createApiKey(message: $m, signature: $s, label: "laptop") { id key prefix address } }`,
        {
          m: text,
          s: await signer.signMessage(text),
        },
      );
    const reasonOf = (r: Awaited<ReturnType<typeof signIn>>) => [
      r.errors?.[0]?.extensions.code,
      r.errors?.[0]?.extensions.reason,
    ];

    const issued = await nonce();
    t.match(issued, { domain: TEST_SIWE_DOMAIN, chainId: chain.deployment.chainId });
    const text = message({ nonce: issued.nonce });
    const created = dataOf(await signIn(text)).createApiKey;
    t.equal(created.address, wallet.address);
    t.match(created.key, /^sk-commons-/);
    t.ok(created.key.startsWith(created.prefix));

    t.same(reasonOf(await signIn(text)), ["UNAUTHENTICATED", "NONCE_INVALID"], "replayed nonce");
    t.same(
      reasonOf(await signIn(message({ nonce: "neverissued123" }))),
      ["UNAUTHENTICATED", "NONCE_INVALID"],
      "unknown nonce",
    );
    t.same(
      reasonOf(await signIn(message({ nonce: (await nonce()).nonce, domain: "evil.example" }))),
      ["UNAUTHENTICATED", "DOMAIN_MISMATCH"],
      "foreign domain",
    );
    t.same(
      reasonOf(await signIn(message({ nonce: (await nonce()).nonce, chainId: 1 }))),
      ["UNAUTHENTICATED", "CHAIN_MISMATCH"],
      "foreign chain",
    );
    t.same(
      reasonOf(
        await signIn(
          message({
            nonce: (await nonce()).nonce,
            issuedAt: new Date(Date.now() - 120_000).toISOString(),
            expirationTime: new Date(Date.now() - 60_000).toISOString(),
          }),
        ),
      ),
      ["UNAUTHENTICATED", "EXPIRED_MESSAGE"],
      "expired message",
    );
    t.same(
      reasonOf(await signIn(message({ nonce: (await nonce()).nonce }), new Wallet(Wallet.createRandom().privateKey))),
      ["UNAUTHENTICATED", "INVALID_SIGNATURE"],
      "signed by another wallet",
    );
    t.same(codesOf(await signIn("hello")), ["BAD_USER_INPUT"], "not an EIP-4361 message");

    // The key reads its owner's records only; the operator token reads everyone's.
    const asKey = { authorization: `Bearer ${created.key}` };
    t.same(dataOf(await api.gql(`{ usage { model } }`, {}, asKey)).usage, []);
    t.same(codesOf(await api.gql(`{ usage { model } }`)), ["UNAUTHENTICATED"]);
    t.same(codesOf(await api.gql(`{ usage(consumer: "${holder0.address}") { model } }`, {}, asKey)), ["FORBIDDEN"]);
    t.same(
      dataOf(
        await api.gql(
          `{ decisions { edges { node { id } } } }`,
          {},
          { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` },
        ),
      ).decisions.edges,
      [],
    );
    t.same(codesOf(await api.gql(`{ usage { model } }`, {}, { authorization: "Bearer sk-commons-nope" })), [
      "UNAUTHENTICATED",
    ]);

    t.same(codesOf(await api.gql(`mutation { revokeApiKey(id: "${created.id}") }`)), ["UNAUTHENTICATED"]);
    t.same(dataOf(await api.gql(`mutation { revokeApiKey(id: "${created.id}") }`, {}, asKey)), { revokeApiKey: true });
    t.same(
      codesOf(await api.gql(`{ usage { model } }`, {}, asKey)),
      ["UNAUTHENTICATED"],
      "a revoked key no longer works",
    );
  },
);
