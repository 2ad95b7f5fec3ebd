import { enactedBy, timeOf } from "../range-state.ts";
import type { Handlers } from "./handler.ts";

/** The resource allocator: grants and their revocations, the community pool and who may draw on it. */
export const allocator: Handlers<"GrantCreated" | "GrantRevoked" | "CommunityPoolSet" | "PoolEligibilitySet"> = {
  GrantCreated(s, e) {
    s.rows.grants.set(e.grantId.toString(), {
      grant_id: e.grantId.toString(),
      grantee: e.grantee,
      model_id: e.modelId,
      tokens_per_epoch: e.tokensPerEpoch.toString(),
      start_time: e.start,
      end_time: e.end,
      revoked: false,
      proposal_id: enactedBy(s, e),
      block_number: e.blockNumber,
      block_time: timeOf(s, e.blockNumber),
      tx_hash: e.txHash,
      revoked_proposal_id: null,
      revoked_block: null,
      revoked_tx: null,
    });
  },
  GrantRevoked(s, e) {
    const revocation = {
      grantId: e.grantId.toString(),
      proposalId: enactedBy(s, e),
      block: e.blockNumber,
      tx: e.txHash,
    };
    // A grant created in this range is still in memory: revoke it there; an older one is updated in place.
    const fresh = s.rows.grants.get(revocation.grantId);
    if (fresh) {
      Object.assign(fresh, {
        revoked: true,
        revoked_proposal_id: revocation.proposalId,
        revoked_block: e.blockNumber,
        revoked_tx: e.txHash,
      });
    } else s.rows.revocations.push(revocation);
  },
  CommunityPoolSet(s, e) {
    s.rows.pools.push({
      block_number: e.blockNumber,
      log_index: e.logIndex,
      allowance_per_address: e.pool.allowancePerAddress.toString(),
      pool_size_per_epoch: e.pool.poolSizePerEpoch.toString(),
      epoch_length: e.pool.epochLength,
      proposal_id: enactedBy(s, e),
      block_time: timeOf(s, e.blockNumber),
      tx_hash: e.txHash,
    });
  },
  PoolEligibilitySet(s, e) {
    s.rows.eligibility.push({
      block_number: e.blockNumber,
      log_index: e.logIndex,
      min_votes: e.minVotes.toString(),
      proposal_id: enactedBy(s, e),
      block_time: timeOf(s, e.blockNumber),
      tx_hash: e.txHash,
    });
  },
};
