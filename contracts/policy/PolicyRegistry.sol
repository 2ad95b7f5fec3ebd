// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MODEL_ID_MAX_BYTES} from "./ModelIds.sol";

/// @notice What the registry needs of the governor: who its proposal guardian is.
interface IProposalGuardianSource {
    /// @notice The governor's proposal guardian (zero: none).
    function proposalGuardian() external view returns (address);
}

/// @title AI Commons policy registry
/// @notice The model guidelines the community voted for: per model id a versioned policy that says
/// whether the model is approved or suspended, its limits, allowed purposes, blocked content terms and
/// the guideline document it rests on. Owned by the timelock, so only passed proposals change it, with
/// one exception: the governor's proposal guardian may suspend a model at once, for a governed period
/// after which the suspension lapses unless a vote confirms it.
/// @dev Every change bumps the model's version and emits the complete new policy, so an indexer can
/// rebuild the whole history from events alone. Storage keeps only what a contract or a check needs: the
/// version, the suspension and a hash of the rules (the rules themselves live in the PolicySet event,
/// which is half the gas of storing them; `matchesRules` checks a rules document against the hash).
contract PolicyRegistry is Ownable {
    /// @notice Longest accepted model id, in bytes.
    uint256 public constant MAX_MODEL_ID_LENGTH = MODEL_ID_MAX_BYTES;

    /// @notice What a proposal sets for a model.
    struct PolicyInput {
        bool approved;
        uint32 maxTokensPerRequest;
        uint32 requestsPerMinute;
        string[] allowedPurposes;
        string[] blockedTerms;
        string guidelineURI;
        bytes32 guidelineHash;
    }

    /// @notice A model's policy as in force: one storage slot for the state, one for the rules' hash.
    /// `suspended` with `suspendedUntil` 0 is a suspension by vote (until a new policy); with a time, a
    /// guardian's suspension that lapses at that second unless a vote confirms it.
    struct Policy {
        uint64 version;
        bool suspended;
        uint48 suspendedUntil;
        bytes32 rulesHash;
    }

    /// @notice Shortest guardian suspension governance may set.
    uint32 public constant MIN_GUARDIAN_SUSPENSION_PERIOD = 1 hours;
    /// @notice Longest guardian suspension governance may set: a brake, not a veto.
    uint32 public constant MAX_GUARDIAN_SUSPENSION_PERIOD = 30 days;

    /// @notice The governor whose proposal guardian may suspend models (zero: no guardian brake, as for
    /// an existing DAO's governor without one).
    IProposalGuardianSource public immutable GUARDIAN_SOURCE;

    /// @dev No list of model ids: PolicySet with previousVersion 0 names each new model, and a stored
    /// list would cost a new model's policy a quarter of its gas for a view no contract reads.
    mapping(bytes32 modelKey => Policy) private _policies;
    uint32 private _guardianSuspensionPeriod;

    /// @notice The model id is empty or longer than MAX_MODEL_ID_LENGTH.
    error RegistryInvalidModelId(string modelId);
    /// @notice An approved model needs a positive per-request token limit and request rate.
    error RegistryZeroLimit(string modelId, string field);
    /// @notice An approved model needs a guideline document (URI and content hash).
    error RegistryMissingGuideline(string modelId);
    /// @notice The model has no policy yet.
    error RegistryUnknownModel(string modelId);
    /// @notice The model is already suspended.
    error RegistryAlreadySuspended(string modelId, uint64 version);
    /// @notice The registry cannot be left without an owner: no policy could ever change again.
    error RegistryOwnershipNotRenounceable();
    /// @notice Only the governor's proposal guardian may suspend a model without a vote.
    error RegistryNotGuardian(address caller);
    /// @notice The guardian suspension period is outside [minimum, maximum].
    error RegistryInvalidSuspensionPeriod(uint32 period, uint32 minimum, uint32 maximum);

    /// @notice A model's policy was set; `previousVersion` is 0 for a new model.
    event PolicySet(
        bytes32 indexed modelKey,
        string modelId,
        uint64 previousVersion,
        uint64 version,
        PolicyInput policy
    );
    /// @notice A model was suspended by a vote (or a guardian's suspension confirmed); its rules stay as
    /// they were, but no call may use it until a new policy is set.
    event ModelSuspended(
        bytes32 indexed modelKey,
        string modelId,
        uint64 previousVersion,
        uint64 version,
        string reason
    );

    /// @notice The guardian suspended a model until `suspendedUntil` (Unix seconds), unless a vote confirms it.
    event ModelSuspendedByGuardian(
        bytes32 indexed modelKey,
        string modelId,
        address indexed guardian,
        uint64 previousVersion,
        uint64 version,
        uint48 suspendedUntil,
        string reason
    );
    /// @notice Governance changed how long a guardian's suspension lasts.
    event GuardianSuspensionPeriodSet(uint32 previousPeriod, uint32 period);

    /// @param timelock The owner: the governance timelock.
    /// @param guardianSource The governor whose proposal guardian may suspend models (zero: none).
    /// @param suspensionPeriod How long a guardian's suspension lasts, in seconds.
    constructor(address timelock, IProposalGuardianSource guardianSource, uint32 suspensionPeriod) Ownable(timelock) {
        GUARDIAN_SOURCE = guardianSource;
        _setGuardianSuspensionPeriod(suspensionPeriod);
    }

    /// @notice Sets (or replaces) the policy for `modelId` and lifts any suspension.
    /// @param modelId The model's id as clients name it (for example "llama-3-8b").
    /// @param input The new rules.
    /// @return version The model's new policy version.
    function setPolicy(
        string calldata modelId,
        PolicyInput calldata input
    ) external onlyOwner returns (uint64 version) {
        bytes32 key = _validModelKey(modelId);
        if (input.approved) {
            if (input.maxTokensPerRequest == 0) revert RegistryZeroLimit(modelId, "maxTokensPerRequest");
            if (input.requestsPerMinute == 0) revert RegistryZeroLimit(modelId, "requestsPerMinute");
            if (bytes(input.guidelineURI).length == 0 || input.guidelineHash == bytes32(0)) {
                revert RegistryMissingGuideline(modelId);
            }
        }
        uint64 previous = _policies[key].version;
        version = previous + 1;
        // One write of both slots; a fresh struct also clears any suspension.
        _policies[key] = Policy(version, false, 0, keccak256(abi.encode(input)));
        emit PolicySet(key, modelId, previous, version, input);
    }

    /// @notice Suspends `modelId` until a new policy is set for it; confirms a guardian's suspension.
    /// @param modelId The model to suspend.
    /// @param reason Why, in words, for the public record.
    /// @return version The model's new policy version.
    function suspendModel(string calldata modelId, string calldata reason) external onlyOwner returns (uint64 version) {
        bytes32 key = _validModelKey(modelId);
        Policy storage policy = _policies[key];
        uint64 previous = policy.version;
        if (previous == 0) revert RegistryUnknownModel(modelId);
        if (policy.suspended && policy.suspendedUntil == 0) revert RegistryAlreadySuspended(modelId, previous);
        version = previous + 1;
        policy.version = version;
        policy.suspended = true;
        policy.suspendedUntil = 0;
        emit ModelSuspended(key, modelId, previous, version, reason);
    }

    /// @notice The guardian's emergency brake: suspends `modelId` at once, for the governed period. A vote
    /// confirms it (`suspendModel`) or lifts it (`setPolicy`); otherwise it lapses.
    /// @param modelId The model to suspend.
    /// @param reason Why, in words, for the public record.
    /// @return version The model's new policy version.
    function guardianSuspendModel(string calldata modelId, string calldata reason) external returns (uint64 version) {
        address guardian = address(GUARDIAN_SOURCE) == address(0) ? address(0) : GUARDIAN_SOURCE.proposalGuardian();
        if (guardian == address(0) || msg.sender != guardian) revert RegistryNotGuardian(msg.sender);
        bytes32 key = _validModelKey(modelId);
        Policy storage policy = _policies[key];
        uint64 previous = policy.version;
        if (previous == 0) revert RegistryUnknownModel(modelId);
        if (_isSuspended(policy)) revert RegistryAlreadySuspended(modelId, previous);
        version = previous + 1;
        uint48 until = uint48(block.timestamp) + _guardianSuspensionPeriod;
        policy.version = version;
        policy.suspended = true;
        policy.suspendedUntil = until;
        emit ModelSuspendedByGuardian(key, modelId, msg.sender, previous, version, until, reason);
    }

    /// @notice Sets how long a guardian's suspension lasts.
    /// @param period Seconds, within [MIN_GUARDIAN_SUSPENSION_PERIOD, MAX_GUARDIAN_SUSPENSION_PERIOD].
    function setGuardianSuspensionPeriod(uint32 period) external onlyOwner {
        _setGuardianSuspensionPeriod(period);
    }

    /// @notice How long a guardian's suspension lasts, in seconds.
    /// @return The period.
    function guardianSuspensionPeriod() external view returns (uint32) {
        return _guardianSuspensionPeriod;
    }

    /// @notice Whether `modelId` is suspended now: by a vote, or by the guardian until a time not yet reached.
    /// @param modelId The model.
    /// @return True while no call may use the model.
    function isSuspended(string calldata modelId) external view returns (bool) {
        return _isSuspended(_policies[keccak256(bytes(modelId))]);
    }

    /// @notice Whether `rules` are the rules in force for `modelId` (the PolicySet event carries them).
    /// @param modelId The model.
    /// @param rules A rules document, as a proposal set it.
    /// @return True when its hash is the one stored for the model's current version.
    function matchesRules(string calldata modelId, PolicyInput calldata rules) external view returns (bool) {
        Policy storage policy = _policies[keccak256(bytes(modelId))];
        return policy.version != 0 && policy.rulesHash == keccak256(abi.encode(rules));
    }

    /// @notice Disabled: a vote must never leave the registry without its owner, the timelock.
    /// @dev Always reverts, so a passed proposal that calls it fails at execution and changes nothing.
    function renounceOwnership() public pure override {
        revert RegistryOwnershipNotRenounceable();
    }

    /// @notice The policy in force for `modelId` (version 0 when there is none).
    /// @param modelId The model.
    /// @return The model's policy.
    function getPolicy(string calldata modelId) external view returns (Policy memory) {
        return _policies[keccak256(bytes(modelId))];
    }

    /// @notice The key under which events index `modelId`.
    /// @param modelId The model.
    /// @return keccak256 of the id's bytes.
    function modelKey(string calldata modelId) external pure returns (bytes32) {
        return keccak256(bytes(modelId));
    }

    function _isSuspended(Policy storage policy) private view returns (bool) {
        return policy.suspended && (policy.suspendedUntil == 0 || block.timestamp < policy.suspendedUntil);
    }

    function _setGuardianSuspensionPeriod(uint32 period) private {
        if (period < MIN_GUARDIAN_SUSPENSION_PERIOD || period > MAX_GUARDIAN_SUSPENSION_PERIOD) {
            revert RegistryInvalidSuspensionPeriod(
                period,
                MIN_GUARDIAN_SUSPENSION_PERIOD,
                MAX_GUARDIAN_SUSPENSION_PERIOD
            );
        }
        emit GuardianSuspensionPeriodSet(_guardianSuspensionPeriod, period);
        _guardianSuspensionPeriod = period;
    }

    function _validModelKey(string calldata modelId) private pure returns (bytes32) {
        uint256 length = bytes(modelId).length;
        if (length == 0 || length > MAX_MODEL_ID_LENGTH) revert RegistryInvalidModelId(modelId);
        return keccak256(bytes(modelId));
    }
}
