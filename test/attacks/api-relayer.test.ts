/**
 * The relayer pays gas for other people's ballots: nobody may make it spend without bound, relay one
 * ballot twice, or get a retryable RPC_ERROR where the contract said no. Quotas are counted in Postgres,
 * so a second replica on the same database sees them.
 */
import { type HDNodeWallet, Wallet } from "ethers";
import Fastify from "fastify";
import t from "tap";
import apiPlugin from "../../services/api/plugin.ts";
import { GovernanceHelper, policyAction, type Signer, Vote } from "../../services/devkit/chain.ts";
import { codesOf, createApiFixture, dataOf, type GraphQLResponse } from "../helpers/graphql.ts";

const TOKEN = 10n ** 18n;
const relayer = new Wallet(Wallet.createRandom().privateKey);
const api = await createApiFixture(t, {
  relayer,
  env: {
    RELAY_PER_VOTER_PER_DAY: "2",
    RELAY_PER_CLIENT_PER_DAY: "4",
    RELAY_MAX_REASON_BYTES: "16",
    RELAY_MIN_VOTING_POWER: String(100n * TOKEN),
  },
});
const { chain } = api;
const holder0 = chain.signers[0] as Signer;
await chain.provider.send("hardhat_setBalance", [relayer.address, `0x${(10n ** 20n).toString(16)}`]);

/** Another replica of the API: same database and chain, its own process state (and optionally settings). */
async function replica(config: Partial<typeof api.deps.config> = {}) {
  const app = Fastify({ logger: false });
  await app.register(apiPlugin, { deps: { ...api.deps, config: { ...api.deps.config, ...config } }, relayer });
  t.teardown(() => app.close());
  return app;
}

async function voterWith(tokens: bigint): Promise<HDNodeWallet> {
  const wallet = Wallet.createRandom().connect(chain.provider);
  await chain.provider.send("hardhat_setBalance", [wallet.address, `0x${(10n ** 20n).toString(16)}`]);
  await (await chain.contract("token", holder0).getFunction("transfer")(wallet.address, tokens)).wait();
  await (await chain.contract("token", wallet).getFunction("delegate")(wallet.address)).wait();
  return wallet;
}

const voters = await Promise.all(Array.from({ length: 8 }, () => voterWith(1000n * TOKEN)));
const [alice, bob, carol, ...crowd] = voters as [HDNodeWallet, HDNodeWallet, HDNodeWallet, ...HDNodeWallet[]];
const minnow = await voterWith(10n * TOKEN);
const proposals = [1, 2, 3].map((i) => new GovernanceHelper(chain, [policyAction({ modelId: `relay-${i}` })]));
for (const p of proposals) await p.propose();
await (proposals[2] as GovernanceHelper).waitForSnapshot();
const [p1, p2, p3] = proposals as [GovernanceHelper, GovernanceHelper, GovernanceHelper];

const CAST = `mutation($id: BigInt!, $voter: Address!, $sig: Bytes!, $reason: String) {
  castVoteBySig(proposalId: $id, support: FOR, voter: $voter, signature: $sig, reason: $reason) }`;

let clients = 0;

async function castBySig(
  ballot: { proposalId: bigint; voter: string; signature: string },
  options: { reason?: string; app?: Awaited<ReturnType<typeof replica>>; client?: string } = {},
): Promise<GraphQLResponse> {
  const response = await (options.app ?? api.app).inject({
    method: "POST",
    url: "/graphql",
    // Each call from a client of its own unless the test names one: only the client quota test shares one.
    remoteAddress: options.client ?? `10.1.${Math.floor(++clients / 250)}.${clients % 250}`,
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({
      query: CAST,
      variables: {
        id: String(ballot.proposalId),
        voter: ballot.voter,
        sig: ballot.signature,
        reason: options.reason ?? null,
      },
    }),
  });
  return { status: response.statusCode, ...response.json() };
}

const reasonOf = (r: GraphQLResponse) => r.errors?.[0]?.extensions.reason;

async function votesCastBy(voter: string, proposalId: bigint): Promise<number> {
  const governor = chain.contract("governor");
  const logs = await governor.queryFilter(governor.filters.VoteCast?.(voter) ?? "VoteCast");
  return logs.filter((l) => "args" in l && l.args[1] === proposalId).length;
}

t.test("the same ballot sent twice at once is relayed once; the other and any replay are ALREADY_VOTED", async (t) => {
  const ballot = await p1.signBallot(alice, Vote.For);
  const answers = await Promise.all([castBySig(ballot), castBySig(ballot, { app: await replica() })]);
  const relayed = answers.filter((a) => a.data?.castVoteBySig);
  const refused = answers.filter((a) => a.errors);
  t.equal(relayed.length, 1, "one relay");
  t.equal(refused.length, 1, "one refusal");
  t.same(codesOf(refused[0] as GraphQLResponse), ["BAD_USER_INPUT"], "not a retryable RPC_ERROR");
  t.equal(reasonOf(refused[0] as GraphQLResponse), "ALREADY_VOTED");
  const hash = (relayed[0] as GraphQLResponse).data?.castVoteBySig as string;
  t.equal((await chain.provider.getTransactionReceipt(hash))?.status, 1);
  t.equal(await votesCastBy(alice.address, ballot.proposalId), 1, "one vote on chain");

  const replay = await castBySig(ballot);
  t.equal(reasonOf(replay), "ALREADY_VOTED", "a replay of a counted ballot is not reported as a bad signature");
  t.notMatch(replay.errors?.[0]?.message, /signature/);
});

t.test("a reason longer than RELAY_MAX_REASON_BYTES is refused before anything is sent", async (t) => {
  const long = await p1.signBallot(bob, Vote.For, "seventeen bytes!!");
  const refused = await castBySig(long, { reason: "seventeen bytes!!" });
  t.same(codesOf(refused), ["BAD_USER_INPUT"]);
  t.equal(reasonOf(refused), "REASON_TOO_LONG");
  t.match(refused.errors?.[0]?.message, /at most 16/);
  const fits = await p1.signBallot(bob, Vote.For, "sixteen bytes ok");
  dataOf(await castBySig(fits, { reason: "sixteen bytes ok" }));
});

t.test("a voter below RELAY_MIN_VOTING_POWER votes from its own wallet, not on the relayer's gas", async (t) => {
  const refused = await castBySig(await p1.signBallot(minnow, Vote.For));
  t.equal(reasonOf(refused), "NO_VOTING_POWER");
  t.match(refused.errors?.[0]?.message, /below/);
  t.equal(await votesCastBy(minnow.address, await p1.id()), 0);
});

t.test("relays per voter per day hold across replicas", async (t) => {
  const other = await replica();
  dataOf(await castBySig(await p1.signBallot(carol, Vote.For)));
  dataOf(await castBySig(await p2.signBallot(carol, Vote.For), { app: other }));
  const third = await castBySig(await p3.signBallot(carol, Vote.For));
  t.same(codesOf(third), ["RATE_LIMITED"]);
  t.equal(reasonOf(third), "RELAY_ACCOUNT_QUOTA");
  t.ok(third.errors?.[0]?.extensions.retryAt, "says when to try again");
  t.equal(await votesCastBy(carol.address, await p3.id()), 0);
});

t.test("relays per client per day: a fifth voter from one client is refused", async (t) => {
  const client = "10.0.0.7";
  for (const voter of crowd.slice(0, 4)) dataOf(await castBySig(await p2.signBallot(voter, Vote.For), { client }));
  const fifth = crowd[4] as HDNodeWallet;
  const refused = await castBySig(await p2.signBallot(fifth, Vote.For), { client });
  t.equal(reasonOf(refused), "RELAY_CLIENT_QUOTA");
  dataOf(await castBySig(await p2.signBallot(fifth, Vote.For), { client: "10.0.0.8" }));
});

t.test("the day's gas spend ceiling refuses a relay it would exceed, and releases the ballot", async (t) => {
  const stingy = await replica({ RELAY_MAX_SPEND_WEI_PER_DAY: 1n });
  const ballot = await p3.signBallot(bob, Vote.For);
  const refused = await castBySig(ballot, { app: stingy });
  t.same(codesOf(refused), ["RATE_LIMITED"]);
  t.equal(reasonOf(refused), "RELAY_SPEND_CEILING");
  // The same ballot, relayed by a replica within its ceiling: the refusal released it.
  dataOf(await castBySig(ballot));
});

t.test("relayTransaction answers what a revert means, decoded with the contracts' ABIs", async (t) => {
  const wallet = await voterWith(TOKEN);
  const governor = chain.contract("governor", wallet);
  const sign = async (proposalId: bigint) => {
    const data = governor.interface.encodeFunctionData("castVote", [proposalId, Vote.For]);
    // A gas limit of its own: the wallet must not estimate (and so refuse) what the service is to judge.
    const populated = await wallet.populateTransaction({
      to: chain.deployment.contracts.governor,
      data,
      gasLimit: 300_000n,
    });
    return wallet.signTransaction(populated);
  };
  const relay = (tx: string) => api.gql(`mutation($tx: Bytes!) { relayTransaction(signedTransaction: $tx) }`, { tx });

  const unknown = await relay(await sign(12345n));
  t.same(codesOf(unknown), ["NOT_FOUND"]);
  t.equal(unknown.errors?.[0]?.extensions.revert, "GovernorNonexistentProposal");
  t.match(unknown.errors?.[0]?.message, /GovernorNonexistentProposal\(12345\)/);
  t.notMatch(unknown.errors?.[0]?.message, /unknown custom error/);

  dataOf(await relay(await sign(await p1.id())));
  const twice = await relay(await sign(await p1.id()));
  t.equal(reasonOf(twice), "ALREADY_VOTED");
  t.equal(twice.errors?.[0]?.extensions.revert, "GovernorAlreadyCastVote");
});

t.test("/metrics shows relays by outcome and reason, the day's spend and the limits", async (t) => {
  const text = await api.deps.metrics.registry.metrics();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
  t.ok(value(/commons_relay_requests_total\{mutation="castVoteBySig",outcome="relayed",reason=""\} (\d+)/) >= 8);
  for (const reason of ["ALREADY_VOTED", "REASON_TOO_LONG", "NO_VOTING_POWER", "RELAY_ACCOUNT_QUOTA"]) {
    t.ok(
      value(
        new RegExp(
          `commons_relay_requests_total\\{mutation="castVoteBySig",outcome="refused",reason="${reason}"\\} (\\d+)`,
        ),
      ) >= 1,
      reason,
    );
  }
  t.ok(value(/commons_relay_spent_wei_today (\d+)/) > 0, "spend so far today");
  t.equal(value(/commons_relay_limit\{limit="per_account_per_day"\} (\d+)/), 2);
  t.equal(value(/commons_relay_limit\{limit="max_reason_bytes"\} (\d+)/), 16);
});
