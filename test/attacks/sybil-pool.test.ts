import {
  type BaseWallet,
  Contract,
  type HDNodeWallet,
  id,
  JsonRpcProvider,
  parseEther,
  parseUnits,
  Wallet,
} from "ethers";
import OpenAI from "openai";
import t from "tap";
import { loadArtifact } from "../../services/chain/artifacts.ts";
import { delegate, send } from "../../services/cli/chain-actions.ts";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { SYNC_STATUS } from "../../services/cli/operations.ts";
import { type IssuedKey, signInForApiKey } from "../../services/cli/sign-in.ts";
import { until } from "../../services/devkit/until.ts";
import { isAppError } from "../../services/shared/errors.ts";
import { advanceTo, build, enact } from "../helpers/app.ts";
import { adHoc } from "../helpers/graphql.ts";

// The whole service on its own development chain. Its clock follows the chain's (the test moves the
// chain across epochs), so staleness, which compares the index heartbeat with the service's clock, is
// waived: what is under test is who may draw on the pool, not how fresh the index is.
let offsetMs = 0;
// The sybils all sign in from this one client: the per-client sign-in cap (api-sign-in.test.ts) is lifted
// here, so that what refuses them is the pool's rule.
const service = await build(t, {
  now: () => Date.now() + offsetMs,
  env: { ALLOW_STALE_POLICY: "true", SIGN_INS_PER_HOUR: "1000" },
});
const provider = new JsonRpcProvider(service.urls.rpc, undefined, { cacheTimeout: -1, pollingInterval: 50 });
t.teardown(() => provider.destroy());
const api = createGraphqlClient(service.urls.http);
const { deployment } = service.deps;
const holder = new Wallet(service.devChain!.holders[0]!.privateKey, provider);
const token = new Contract(deployment.contracts.token, loadArtifact("token").abi, holder);

const MODEL = "open-model";
const EPOCH = 86_400;
const MIN = parseUnits("100", 18);
const ALLOWANCE = 2_000; // the development pool's allowance per address

/** The service's clock joins the chain's, and the index reaches the chain's head. */
async function settle(): Promise<number> {
  const latest = (await provider.getBlock("latest"))!;
  offsetMs = latest.timestamp * 1000 - Date.now();
  await until(async () => {
    const { syncStatus } = await api.request(SYNC_STATUS);
    return syncStatus.indexedBlock >= latest.number ? true : undefined;
  }, `the index to reach block ${latest.number}`);
  return latest.timestamp;
}

/** Moves the chain (and the service) to ten seconds into the next epoch; returns that epoch's start. */
async function nextEpoch(): Promise<number> {
  const now = (await provider.getBlock("latest"))!.timestamp;
  const start = now - (now % EPOCH) + EPOCH;
  await advanceTo(provider, BigInt(start + 10));
  await settle();
  return start;
}

async function signIn(wallet: BaseWallet): Promise<IssuedKey> {
  return signInForApiKey(api, service.urls.http, wallet);
}

/** The AppError a sign-in was refused with. */
async function signInRefusal(wallet: BaseWallet) {
  try {
    await signIn(wallet);
  } catch (error) {
    if (isAppError(error)) return { code: error.code, details: error.details ?? {}, message: error.message };
    throw error;
  }
  throw new Error(`${wallet.address} was given a key`);
}

function client(key: string) {
  return new OpenAI({ apiKey: key, baseURL: new URL("/v1", service.urls.http).toString(), maxRetries: 0 });
}

/** "ADMITTED", or the reason code and message of the refusal. */
async function call(key: string, maxTokens = 16): Promise<{ code: string; message: string }> {
  try {
    await client(key).chat.completions.create({
      model: MODEL,
      max_tokens: maxTokens,
      messages: [{ role: "user", content: "hello" }],
    });
    return { code: "ADMITTED", message: "" };
  } catch (error) {
    if (error instanceof OpenAI.APIError) return { code: String(error.code), message: error.message };
    throw error;
  }
}

/** A fresh wallet with ETH for gas and `amount` governance tokens, delegated to itself. */
async function fund(amount: bigint): Promise<HDNodeWallet> {
  const wallet = Wallet.createRandom().connect(provider);
  await send("funding", () => holder.sendTransaction({ to: wallet.address, value: parseEther("1") }));
  await send("transferring tokens", () => token.getFunction("transfer")(wallet.address, amount));
  await delegate(deployment, wallet, wallet.address);
  return wallet;
}

const policy = {
  setModelPolicy: {
    modelId: MODEL,
    approved: true,
    maxTokensPerRequest: 512,
    requestsPerMinute: 1000,
    allowedPurposes: [],
    blockedTerms: [],
    guidelineUri: "https://example.org/guidelines/open-model",
    guidelineHash: id("open-model guidelines"),
  },
};

// Before the rule: the development chain's pool is open to every address, so a script got a key.
const earlySybil = Wallet.createRandom();
await enact(service, [policy]);
await settle();
const earlySybilKey = await signIn(earlySybil);
t.equal((await call(earlySybilKey.key)).code, "ADMITTED", "with no minimum the pool serves any fresh wallet");

t.test("a proposal sets the pool's minimum; it is indexed and enforced at the next call", async (t) => {
  const proposalId = await enact(service, [{ setPoolEligibility: { minVotes: MIN.toString() } }]);
  await settle();
  const { allocations } = await api.request(
    adHoc<{ allocations: { communityPool: { minVotes: string; minVotesEnactedBy: { proposalId: string } } } }>(
      "{ allocations { communityPool { minVotes minVotesEnactedBy { proposalId } } } }",
    ),
  );
  t.same(allocations.communityPool, { minVotes: MIN.toString(), minVotesEnactedBy: { proposalId } });
  const { proposal } = await api.request(
    adHoc<{ proposal: { kinds: string[]; actions: unknown[] } }, { id: string }>(
      `query ($id: BigInt!) {
        proposal(id: $id) { kinds actions { kind ... on SetPoolEligibilityAction { minVotes } } }
      }`,
    ),
    { id: proposalId },
  );
  t.same(
    proposal,
    { kinds: ["SET_POOL_ELIGIBILITY"], actions: [{ kind: "SET_POOL_ELIGIBILITY", minVotes: MIN.toString() }] },
    "the index decoded the proposal's action",
  );
  const refusal = await until(async () => {
    const outcome = await call(earlySybilKey.key);
    return outcome.code === "ADMITTED" ? undefined : outcome;
  }, "the minimum to be enforced");
  t.equal(refusal.code, "BUDGET_EXHAUSTED", "the script's key no longer draws on the pool");
  t.match(refusal.message, new RegExp(`requires ${MIN} voting power \\(token wei\\) at the epoch start`));
});

t.test("twenty fresh wallets with no votes are refused at sign-in, and get no key", async (t) => {
  await nextEpoch();
  const wallets = Array.from({ length: 20 }, () => Wallet.createRandom());
  for (const wallet of wallets) {
    const refusal = await signInRefusal(wallet);
    t.match(refusal, { code: "FORBIDDEN", details: { reason: "NOT_ELIGIBLE", minVotes: MIN.toString(), votes: "0" } });
  }
  const keys = await service.deps.database.db
    .selectFrom("api_keys")
    .select("address")
    .where(
      "address",
      "in",
      wallets.map((w) => w.address),
    )
    .execute();
  t.same(keys, [], "no key was issued to any of them");
  const holderKey = await signIn(new Wallet(holder.privateKey));
  t.ok(holderKey.key, "a holder whose tokens predate the epoch signs in");
});

let member: HDNodeWallet;
let memberKey: IssuedKey;

t.test("a wallet that got its tokens after the epoch began is eligible from the next epoch only", async (t) => {
  member = await fund(MIN * 2n);
  await settle();
  const refusal = await signInRefusal(member);
  t.match(refusal, { code: "FORBIDDEN", details: { reason: "NOT_ELIGIBLE", votes: "0" } }, "not this epoch");
  t.match(refusal.message, /counts from the next one/);

  const start = await nextEpoch();
  memberKey = await signIn(member);
  t.equal(memberKey.address, member.address, "next epoch it signs in");
  t.equal((await call(memberKey.key)).code, "ADMITTED");
  const [record] = await service.deps.database.db
    .selectFrom("gateway_decisions")
    .select(["source", "epoch_start"])
    .where("consumer", "=", member.address)
    .execute();
  t.same(record, { source: "pool", epoch_start: start }, "the call was charged to the pool, in the new epoch");
});

t.test("raising the minimum above a member's voting power takes its pool away at its next call", async (t) => {
  await enact(service, [{ setPoolEligibility: { minVotes: (MIN * 3n).toString() } }]);
  await settle();
  const refusal = await until(async () => {
    const outcome = await call(memberKey.key);
    return outcome.code === "ADMITTED" ? undefined : outcome;
  }, "the higher minimum to be enforced");
  t.equal(refusal.code, "BUDGET_EXHAUSTED");
  t.match(refusal.message, new RegExp(`requires ${MIN * 3n} voting power .* had ${MIN * 2n}`));

  await enact(service, [{ setPoolEligibility: { minVotes: MIN.toString() } }]);
  await settle();
  await until(async () => ((await call(memberKey.key)).code === "ADMITTED" ? true : undefined), "the pool back");
});

t.test("an eligible wallet spends its own allowance, and no more", async (t) => {
  let admitted = 0;
  let last = await call(memberKey.key, 500);
  while (last.code === "ADMITTED") {
    admitted++;
    t.ok(admitted < 20, "the allowance ends");
    last = await call(memberKey.key, 500);
  }
  t.equal(last.code, "BUDGET_EXHAUSTED");
  // Budgets are private: the member reads its own with its key.
  const status = await createGraphqlClient(service.urls.http, { apiKey: memberKey.key }).request(
    adHoc<
      { policyStatus: { poolEligible: boolean; budgets: { source: string; granted: string; used: string }[] } },
      { model: string; consumer: string }
    >(
      `query ($model: String!, $consumer: Address!) {
        policyStatus(model: $model, consumer: $consumer) { poolEligible budgets { source granted used } }
      }`,
    ),
    { model: MODEL, consumer: member.address },
  );
  t.equal(status.policyStatus.poolEligible, true);
  const [pool] = status.policyStatus.budgets;
  t.equal(pool?.granted, String(ALLOWANCE));
  t.ok(Number(pool?.used) > 0 && Number(pool?.used) <= ALLOWANCE, `used ${pool?.used} of ${ALLOWANCE}`);
});

t.test("the pool opens to everyone again when governance sets the minimum to 0", async (t) => {
  await enact(service, [{ setPoolEligibility: { minVotes: "0" } }]);
  await settle();
  await until(
    async () => ((await call(earlySybilKey.key)).code === "ADMITTED" ? true : undefined),
    "the script's key to be served again",
  );
  t.ok(await signIn(Wallet.createRandom()), "and a fresh wallet signs in");
});
