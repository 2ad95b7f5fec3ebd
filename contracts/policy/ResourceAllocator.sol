// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC6372} from "@openzeppelin/contracts/interfaces/IERC6372.sol";
import {MODEL_ID_MAX_BYTES} from "./ModelIds.sol";

/// @title AI Commons resource allocator
/// @notice Who may use how much AI compute per epoch: grants to named addresses (optionally scoped to
/// one model) and a community pool that gives every address a small allowance, so that nobody is
/// locked out. Owned by the timelock, so only passed proposals change it.
/// @dev Amounts are AI tokens (prompt + completion) per epoch. An epoch is the window
/// [t - t % epochLength, + epochLength) in Unix seconds: it follows from the clock alone, so no reset
/// job exists, and every replica of the gateway computes the same epoch.
/// The pool is for people, not scripts: an address draws on it only if it held `poolMinVotes` voting
/// power at the start of the epoch (the token's checkpoints, `getPastVotes(account, epochStart)`), so
/// N wallets need N times the minimum, delegated before the epoch began; tokens moved during the epoch
/// count from the next one.
contract ResourceAllocator is Ownable {
    /// @notice A grant of compute to one address, packed in two storage slots. The model scope is the
    /// first 16 bytes of keccak256 of the model id (zero: any approved model); the id itself is in the
    /// GrantCreated event, since no contract reads it. Times fit uint40 (until the year 36812).
    struct Grant {
        address grantee;
        uint40 start;
        uint40 end;
        bool revoked;
        uint128 tokensPerEpoch;
        bytes16 modelScope;
    }

    /// @notice The community pool: every address may use `allowancePerAddress` per epoch, and all of
    /// them together at most `poolSizePerEpoch`.
    struct CommunityPool {
        uint128 allowancePerAddress;
        uint128 poolSizePerEpoch;
        uint64 epochLength;
    }

    /// @notice The pool's minimum voting power may be at most the token's total supply divided by this:
    /// governance can raise the bar against scripts, but the bar always leaves room for at least this
    /// many addresses to qualify at once, so the pool cannot be closed to all but a few holders.
    uint256 public constant POOL_MIN_VOTES_SUPPLY_DIVISOR = 10_000;

    /// @notice The governance token whose past voting power decides who may draw on the pool.
    IVotes public immutable VOTES_TOKEN;
    /// @notice The highest `poolMinVotes` governance may set: the token's supply (fixed at deployment)
    /// divided by POOL_MIN_VOTES_SUPPLY_DIVISOR.
    uint256 public immutable MAX_POOL_MIN_VOTES;

    uint256 private _nextGrantId = 1;
    mapping(uint256 grantId => Grant) private _grants;
    CommunityPool private _pool;
    uint256 private _poolMinVotes;

    /// @notice The grantee is the zero address.
    error AllocatorZeroAddress();
    /// @notice The grant's model scope is longer than any model id the registry accepts.
    error AllocatorInvalidModelId(string modelId);
    /// @notice A grant must give a positive amount per epoch.
    error AllocatorZeroAmount();
    /// @notice The grant's end is not after its start, or beyond the uint40 seconds a grant stores.
    error AllocatorInvalidPeriod(uint64 start, uint64 end);
    /// @notice No grant has this id.
    error AllocatorUnknownGrant(uint256 grantId);
    /// @notice The grant was already revoked.
    error AllocatorGrantAlreadyRevoked(uint256 grantId);
    /// @notice The epoch length must be positive.
    error AllocatorZeroEpochLength();
    /// @notice One address's allowance cannot exceed the whole pool.
    error AllocatorAllowanceExceedsPool(uint128 allowancePerAddress, uint128 poolSizePerEpoch);
    /// @notice The pool's minimum voting power is above `maximum` (see MAX_POOL_MIN_VOTES).
    error AllocatorPoolMinVotesTooHigh(uint256 minVotes, uint256 maximum);
    /// @notice The allocator cannot be left without an owner: grants and the pool would be frozen forever.
    error AllocatorOwnershipNotRenounceable();

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
    /// @notice The voting power an address needs at the start of an epoch to draw on the pool changed.
    event PoolEligibilitySet(uint256 previousMinVotes, uint256 minVotes);

    /// @param timelock The owner: the governance timelock.
    /// @param token The governance token (ERC20Votes or ERC721Votes): its past votes decide pool eligibility.
    /// @param pool The initial community pool.
    /// @param initialPoolMinVotes The initial minimum voting power for the pool (0: every address).
    constructor(
        address timelock,
        IVotes token,
        CommunityPool memory pool,
        uint256 initialPoolMinVotes
    ) Ownable(timelock) {
        VOTES_TOKEN = token;
        MAX_POOL_MIN_VOTES = _supplyOf(token) / POOL_MIN_VOTES_SUPPLY_DIVISOR;
        _setCommunityPool(pool);
        _setPoolEligibility(initialPoolMinVotes);
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
        if (end <= start || end > type(uint40).max) revert AllocatorInvalidPeriod(start, end);
        grantId = _nextGrantId++;
        _grants[grantId] = Grant(grantee, uint40(start), uint40(end), false, tokensPerEpoch, modelScopeOf(modelId));
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

    /// @notice Sets the voting power an address needs at the start of an epoch to draw on the pool.
    /// @param minVotes Voting power in token units (wei); 0 opens the pool to every address.
    function setPoolEligibility(uint256 minVotes) external onlyOwner {
        _setPoolEligibility(minVotes);
    }

    /// @notice Disabled: a vote must never leave the allocator without its owner, the timelock.
    /// @dev Always reverts, so a passed proposal that calls it fails at execution and changes nothing.
    function renounceOwnership() public pure override {
        revert AllocatorOwnershipNotRenounceable();
    }

    /// @notice The grant with id `grantId` (grantee zero when none).
    /// @param grantId The grant.
    /// @return The grant.
    function getGrant(uint256 grantId) external view returns (Grant memory) {
        return _grants[grantId];
    }

    /// @notice The scope a grant for `modelId` stores: the first 16 bytes of its keccak256, zero for none.
    /// @param modelId The model id, or empty for any approved model.
    /// @return The scope.
    function modelScopeOf(string calldata modelId) public pure returns (bytes16) {
        return bytes(modelId).length == 0 ? bytes16(0) : bytes16(keccak256(bytes(modelId)));
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

    /// @notice The voting power an address needs at the start of an epoch to draw on the pool.
    /// @return Voting power in token units (wei); 0 when every address may.
    function poolMinVotes() external view returns (uint256) {
        return _poolMinVotes;
    }

    /// @notice Whether `account` may draw on the pool in the epoch that contains `timestamp`: its voting
    /// power at that epoch's start was at least `poolMinVotes`.
    /// @dev Reverts (ERC5805FutureLookup, from the token) while the epoch's start is not yet in the past
    /// of the token's clock, unless the minimum is 0.
    /// @param account The address.
    /// @param timestamp Unix seconds within the epoch.
    /// @return True when the account is eligible.
    function isPoolEligible(address account, uint256 timestamp) external view returns (bool) {
        uint256 minimum = _poolMinVotes;
        return minimum == 0 || VOTES_TOKEN.getPastVotes(account, epochStart(timestamp)) >= minimum;
    }

    /// @dev The voting token's supply: `totalSupply()` of an ERC20Votes token, else (an ERC721Votes token
    /// without it, as an existing DAO may vote with) the votes' checkpointed total supply just before now,
    /// on the token's own clock (ERC-6372, or block numbers for tokens older than it).
    function _supplyOf(IVotes token) private view returns (uint256) {
        try IERC20(address(token)).totalSupply() returns (uint256 supply) {
            return supply;
        } catch {}
        uint256 current = block.number;
        try IERC6372(address(token)).clock() returns (uint48 timepoint) {
            current = timepoint;
        } catch {}
        return token.getPastTotalSupply(current - 1);
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

    function _setPoolEligibility(uint256 minVotes) private {
        if (minVotes > MAX_POOL_MIN_VOTES) revert AllocatorPoolMinVotesTooHigh(minVotes, MAX_POOL_MIN_VOTES);
        uint256 previous = _poolMinVotes;
        _poolMinVotes = minVotes;
        emit PoolEligibilitySet(previous, minVotes);
    }
}
