import type { EventLog } from "ethers";
import type { Kysely } from "kysely";
import { policyRulesToAbi } from "../../services/chain/actions.ts";
import type { ProposalState } from "../../services/chain/proposal-state.ts";
import { proposalStateOf } from "../../services/db/governance-queries.ts";
import type { Database } from "../../services/db/schema.ts";
import { pastVotes } from "../../services/db/voting-power.ts";
import type { Chain } from "../../services/devkit/chain.ts";

const states: ProposalState[] = [
  "PENDING",
  "ACTIVE",
  "CANCELED",
  "DEFEATED",
  "SUCCEEDED",
  "QUEUED",
  "EXPIRED",
  "EXECUTED",
];
const settingReads = {
  VOTING_DELAY: "votingDelay",
  VOTING_PERIOD: "votingPeriod",
  PROPOSAL_THRESHOLD: "proposalThreshold",
  QUORUM_NUMERATOR: "quorumNumerator()",
  LATE_QUORUM_EXTENSION: "lateQuorumVoteExtension",
  SUPER_QUORUM_NUMERATOR: "superQuorumNumerator()",
} as const;

/**
 * Compares every indexed fact with the contracts' own views. Returns the differences (empty when the
 * index is exact) and how many facts were compared.
 */
export async function compareWithChain(db: Kysely<Database>, chain: Chain) {
  const diffs: string[] = [];
  let facts = 0;
  const check = (what: string, indexed: unknown, onChain: unknown) => {
    facts++;
    if (String(indexed) !== String(onChain)) diffs.push(`${what}: index ${indexed} != chain ${onChain}`);
  };
  const governor = chain.contract("governor");
  const token = chain.contract("token");
  const registry = chain.contract("registry");
  const allocator = chain.contract("allocator");
  const now = Number(await governor.clock());

  for (const p of await db.selectFrom("proposals").selectAll().execute()) {
    const id = BigInt(p.id);
    const state = proposalStateOf(p, now);
    check(`proposal ${id} state`, state, states[Number(await governor.state(id))]);
    const [against, forVotes, abstain] = await governor.proposalVotes(id);
    check(`proposal ${id} for`, p.for_votes, forVotes);
    check(`proposal ${id} against`, p.against_votes, against);
    check(`proposal ${id} abstain`, p.abstain_votes, abstain);
    check(`proposal ${id} snapshot`, p.vote_start, await governor.proposalSnapshot(id));
    check(`proposal ${id} deadline`, p.vote_end, await governor.proposalDeadline(id));
    check(`proposal ${id} eta`, p.eta ?? 0, await governor.proposalEta(id));
    check(`proposal ${id} proposer`, p.proposer, await governor.proposalProposer(id));
    if (p.vote_start < now) {
      check(`proposal ${id} quorum`, p.quorum, await governor.quorum(p.vote_start));
      check(`proposal ${id} super quorum`, p.super_quorum, await governor.superQuorum(p.vote_start));
    }
    const votes = await db.selectFrom("votes").select("voter").where("proposal_id", "=", p.id).execute();
    check(`proposal ${id} vote_count`, p.vote_count, votes.length);
    for (const v of votes) check(`proposal ${id} hasVoted ${v.voter}`, true, await governor.hasVoted(id, v.voter));
  }

  const accounts = await db.selectFrom("accounts").selectAll().execute();
  const addresses = new Set([...accounts.map((a) => a.address), ...chain.signers.slice(0, 8).map((s) => s.address)]);
  for (const address of addresses) {
    const a = accounts.find((row) => row.address === address);
    check(`${address} balance`, a?.balance ?? "0", await token.balanceOf(address));
    check(`${address} votes`, a?.voting_power ?? "0", await token.getVotes(address));
    const delegate: string = await token.delegates(address);
    check(`${address} delegate`, a?.delegate ?? "0x0000000000000000000000000000000000000000", delegate);
    check(`${address} delegators`, a?.delegators ?? 0, accounts.filter((x) => x.delegate === address).length);
  }
  const checkpoint = await db.selectFrom("indexer_checkpoint").selectAll().executeTakeFirstOrThrow();
  check("total supply", checkpoint.total_supply, await token.totalSupply());

  const latestPolicies = await db
    .selectFrom("policy_versions")
    .selectAll()
    .distinctOn("model_id")
    .orderBy("model_id")
    .orderBy("version", "desc")
    .execute();
  // The registry keeps no list of models: each one's first PolicySet (previous version 0) names it.
  const modelIds: string[] = (await registry.queryFilter(registry.filters.PolicySet!(), chain.deployment.deployBlock))
    .map((e) => (e as EventLog).args)
    .filter((args) => args.previousVersion === 0n)
    .map((args) => args.modelId);
  check(
    "model ids",
    latestPolicies
      .map((p) => p.model_id)
      .sort()
      .join(","),
    [...modelIds].sort().join(","),
  );
  for (const row of latestPolicies) {
    const policy = await registry.getPolicy(row.model_id);
    check(`policy ${row.model_id} version`, row.version, policy.version);
    check(`policy ${row.model_id} suspended`, row.suspended, policy.suspended);
    check(`policy ${row.model_id} suspended until`, row.suspended_until ?? 0, policy.suspendedUntil);
    // The registry keeps only a hash of the rules: the indexed rules must be the document it hashed.
    const rules = {
      approved: row.approved,
      maxTokensPerRequest: row.max_tokens_per_request,
      requestsPerMinute: row.requests_per_minute,
      allowedPurposes: row.allowed_purposes,
      blockedTerms: row.blocked_terms,
      guidelineUri: row.guideline_uri,
      guidelineHash: row.guideline_hash,
    };
    check(`policy ${row.model_id} rules`, true, await registry.matchesRules(row.model_id, policyRulesToAbi(rules)));
  }

  const grants = await db.selectFrom("grants").selectAll().execute();
  const nextGrantId = Number(await allocator.nextGrantId());
  check("grant count", grants.length, nextGrantId - 1);
  for (const row of grants) {
    const g = await allocator.getGrant(row.grant_id);
    check(`grant ${row.grant_id} grantee`, row.grantee, g.grantee);
    check(`grant ${row.grant_id} model`, await allocator.modelScopeOf(row.model_id), g.modelScope);
    check(`grant ${row.grant_id} tokens`, row.tokens_per_epoch, g.tokensPerEpoch);
    check(`grant ${row.grant_id} period`, `${row.start_time}-${row.end_time}`, `${g.start}-${g.end}`);
    check(`grant ${row.grant_id} revoked`, row.revoked, g.revoked);
  }
  const pool = await db
    .selectFrom("community_pool_versions")
    .selectAll()
    .orderBy("block_number", "desc")
    .orderBy("log_index", "desc")
    .executeTakeFirstOrThrow();
  const onChainPool = await allocator.communityPool();
  check("pool allowance", pool.allowance_per_address, onChainPool.allowancePerAddress);
  check("pool size", pool.pool_size_per_epoch, onChainPool.poolSizePerEpoch);
  check("pool epoch", pool.epoch_length, onChainPool.epochLength);

  const eligibility = await db
    .selectFrom("pool_eligibility_versions")
    .selectAll()
    .orderBy("block_number", "desc")
    .orderBy("log_index", "desc")
    .executeTakeFirstOrThrow();
  const minVotes = BigInt(eligibility.min_votes);
  check("pool min votes", minVotes, await allocator.poolMinVotes());

  // Voting power at past times (what pool eligibility reads): at each time an account changed, and the
  // second before, which brackets every checkpoint; then the allocator's own verdict for this epoch.
  const changedAt = await db.selectFrom("account_history").select("block_time").distinct().execute();
  const times = [...new Set(changedAt.flatMap((r) => [Number(r.block_time), Number(r.block_time) - 1]))]
    .filter((time) => time < now)
    .sort((a, b) => a - b);
  const sampled = times.filter((_, i) => i % Math.ceil(times.length / 12) === 0);
  for (const address of addresses) {
    for (const time of sampled) {
      check(
        `${address} votes at ${time}`,
        (await pastVotes(db, address, time)).votes,
        await token.getPastVotes(address, time),
      );
    }
    const epochStart = now - (now % Number(onChainPool.epochLength));
    if (epochStart < now) {
      const indexed = (await pastVotes(db, address, epochStart)).votes >= minVotes;
      check(`${address} pool eligible`, indexed, await allocator.isPoolEligible(address, now));
    }
  }

  for (const [kind, read] of [
    ["GUARDIAN", () => governor.proposalGuardian()],
    ["SUSPENSION_PERIOD", () => registry.guardianSuspensionPeriod()],
  ] as const) {
    const row = await db
      .selectFrom("guardian_changes")
      .select("value")
      .where("kind", "=", kind)
      .orderBy("block_number", "desc")
      .orderBy("log_index", "desc")
      .executeTakeFirstOrThrow();
    check(`guardian ${kind}`, row.value, await read());
  }

  for (const [setting, read] of Object.entries(settingReads)) {
    const row = await db
      .selectFrom("governor_settings")
      .select("value")
      .where("setting", "=", setting)
      .orderBy("block_number", "desc")
      .orderBy("log_index", "desc")
      .executeTakeFirstOrThrow();
    check(`setting ${setting}`, row.value, await governor.getFunction(read)());
  }

  // Provenance: a row enacted by a proposal names one that the index says was executed.
  const enacted = await db
    .selectFrom("policy_versions")
    .select("proposal_id")
    .where("proposal_id", "is not", null)
    .union(db.selectFrom("grants").select("proposal_id").where("proposal_id", "is not", null))
    .union(db.selectFrom("community_pool_versions").select("proposal_id").where("proposal_id", "is not", null))
    .union(db.selectFrom("pool_eligibility_versions").select("proposal_id").where("proposal_id", "is not", null))
    .execute();
  for (const { proposal_id } of enacted) {
    check(`enacting proposal ${proposal_id} executed`, states[Number(await governor.state(proposal_id!))], "EXECUTED");
  }
  return { diffs, facts };
}
