// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MODEL_ID_MAX_BYTES} from "./ModelIds.sol";

/// @title AI Commons resource allocator
/// @notice Who may use how much AI compute per epoch: grants to named addresses (optionally scoped to
/// one model) and a community pool that gives every address a small allowance, so that nobody is
/// locked out. Owned by the timelock, so only passed proposals change it.
/// @dev Amounts are AI tokens (prompt + completion) per epoch. An epoch is the window
/// [t - t % epochLength, + epochLength) in Unix seconds: it follows from the clock alone, so no reset
/// job exists, and every replica of the gateway computes the same epoch.
contract ResourceAllocator is Ownable {
    /// @notice A grant of compute to one address.
    struct Grant {
        address grantee;
        string modelId;
        uint128 tokensPerEpoch;
        uint64 start;
        uint64 end;
        bool revoked;
    }

    /// @notice The community pool: every address may use `allowancePerAddress` per epoch, and all of
    /// them together at most `poolSizePerEpoch`.
    struct CommunityPool {
        uint128 allowancePerAddress;
        uint128 poolSizePerEpoch;
        uint64 epochLength;
    }

    uint256 private _nextGrantId = 1;
    mapping(uint256 grantId => Grant) private _grants;
    CommunityPool private _pool;

    /// @notice The grantee is the zero address.
    error AllocatorZeroAddress();
    /// @notice The grant's model scope is longer than any model id the registry accepts.
    error AllocatorInvalidModelId(string modelId);
    /// @notice A grant must give a positive amount per epoch.
    error AllocatorZeroAmount();
    /// @notice The grant's end is not after its start.
    error AllocatorInvalidPeriod(uint64 start, uint64 end);
    /// @notice No grant has this id.
    error AllocatorUnknownGrant(uint256 grantId);
    /// @notice The grant was already revoked.
    error AllocatorGrantAlreadyRevoked(uint256 grantId);
    /// @notice The epoch length must be positive.
    error AllocatorZeroEpochLength();
    /// @notice One address's allowance cannot exceed the whole pool.
    error AllocatorAllowanceExceedsPool(uint128 allowancePerAddress, uint128 poolSizePerEpoch);

    /// @notice A grant was made.
    event GrantCreated(
        uint256 indexed grantId,
        address indexed grantee,
        string modelId,
        uint128 tokensPerEpoch,
        uint64 start,
        uint64 end
    );
    /// @notice A grant was revoked; it gives nothing from now on.
    event GrantRevoked(uint256 indexed grantId, address indexed grantee);
    /// @notice The community pool was changed, from `previous` to `current`.
    event CommunityPoolSet(CommunityPool previous, CommunityPool current);

    /// @param timelock The owner: the governance timelock.
    /// @param pool The initial community pool.
    constructor(address timelock, CommunityPool memory pool) Ownable(timelock) {
        _setCommunityPool(pool);
    }

    /// @notice Grants `tokensPerEpoch` to `grantee` from `start` until `end` (exclusive).
    /// @param grantee Who receives the grant.
    /// @param modelId The only model the grant may be spent on (at most 128 bytes); empty for any approved model.
    /// @param tokensPerEpoch AI tokens per epoch.
    /// @param start First second of validity.
    /// @param end First second after validity.
    /// @return grantId The new grant's id.
    function grant(
        address grantee,
        string calldata modelId,
        uint128 tokensPerEpoch,
        uint64 start,
        uint64 end
    ) external onlyOwner returns (uint256 grantId) {
        if (grantee == address(0)) revert AllocatorZeroAddress();
        // A scope the registry could never hold a policy for would make the grant unspendable.
        if (bytes(modelId).length > MODEL_ID_MAX_BYTES) revert AllocatorInvalidModelId(modelId);
        if (tokensPerEpoch == 0) revert AllocatorZeroAmount();
        if (end <= start) revert AllocatorInvalidPeriod(start, end);
        grantId = _nextGrantId++;
        _grants[grantId] = Grant(grantee, modelId, tokensPerEpoch, start, end, false);
        emit GrantCreated(grantId, grantee, modelId, tokensPerEpoch, start, end);
    }

    /// @notice Revokes grant `grantId`.
    /// @param grantId The grant to revoke.
    function revoke(uint256 grantId) external onlyOwner {
        Grant storage g = _grants[grantId];
        if (g.grantee == address(0)) revert AllocatorUnknownGrant(grantId);
        if (g.revoked) revert AllocatorGrantAlreadyRevoked(grantId);
        g.revoked = true;
        emit GrantRevoked(grantId, g.grantee);
    }

    /// @notice Replaces the community pool's parameters.
    /// @param pool The new pool.
    function setCommunityPool(CommunityPool calldata pool) external onlyOwner {
        _setCommunityPool(pool);
    }

    /// @notice The grant with id `grantId` (grantee zero when none).
    /// @param grantId The grant.
    /// @return The grant.
    function getGrant(uint256 grantId) external view returns (Grant memory) {
        return _grants[grantId];
    }

    /// @notice The id the next grant will get.
    /// @return The next grant id.
    function nextGrantId() external view returns (uint256) {
        return _nextGrantId;
    }

    /// @notice The community pool in force.
    /// @return The pool.
    function communityPool() external view returns (CommunityPool memory) {
        return _pool;
    }

    /// @notice First second of the epoch that contains `timestamp`.
    /// @param timestamp Unix seconds.
    /// @return Start of that epoch.
    function epochStart(uint256 timestamp) public view returns (uint256) {
        return timestamp - (timestamp % _pool.epochLength);
    }

    /// @notice Whether grant `grantId` gives compute at `timestamp`.
    /// @param grantId The grant.
    /// @param timestamp Unix seconds.
    /// @return True when the grant exists, is not revoked and `start <= timestamp < end`.
    function isGrantActive(uint256 grantId, uint256 timestamp) external view returns (bool) {
        Grant storage g = _grants[grantId];
        return g.grantee != address(0) && !g.revoked && g.start <= timestamp && timestamp < g.end;
    }

    function _setCommunityPool(CommunityPool memory pool) private {
        if (pool.epochLength == 0) revert AllocatorZeroEpochLength();
        if (pool.allowancePerAddress > pool.poolSizePerEpoch) {
            revert AllocatorAllowanceExceedsPool(pool.allowancePerAddress, pool.poolSizePerEpoch);
        }
        CommunityPool memory previous = _pool;
        _pool = pool;
        emit CommunityPoolSet(previous, pool);
    }
}
