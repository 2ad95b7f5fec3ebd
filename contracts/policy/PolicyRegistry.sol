// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MODEL_ID_MAX_BYTES} from "./ModelIds.sol";

/// @title AI Commons policy registry
/// @notice The model guidelines the community voted for: per model id a versioned policy that says
/// whether the model is approved or suspended, its limits, allowed purposes, blocked content terms and
/// the guideline document it rests on. Owned by the timelock, so only passed proposals change it.
/// @dev Every change bumps the model's version and emits the complete new policy, so an indexer can
/// rebuild the whole history from events alone.
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

    /// @notice A model's policy as in force.
    struct Policy {
        uint64 version;
        bool suspended;
        PolicyInput rules;
    }

    mapping(bytes32 modelKey => Policy) private _policies;
    string[] private _modelIds;

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

    /// @notice A model's policy was set; `previousVersion` is 0 for a new model.
    event PolicySet(
        bytes32 indexed modelKey,
        string modelId,
        uint64 previousVersion,
        uint64 version,
        PolicyInput policy
    );
    /// @notice A model was suspended; its rules stay as they were, but no call may use it.
    event ModelSuspended(
        bytes32 indexed modelKey,
        string modelId,
        uint64 previousVersion,
        uint64 version,
        string reason
    );

    /// @param timelock The owner: the governance timelock.
    constructor(address timelock) Ownable(timelock) {}

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
        Policy storage policy = _policies[key];
        uint64 previous = policy.version;
        if (previous == 0) _modelIds.push(modelId);
        version = previous + 1;
        policy.version = version;
        policy.suspended = false;
        policy.rules = input;
        emit PolicySet(key, modelId, previous, version, input);
    }

    /// @notice Suspends `modelId` until a new policy is set for it.
    /// @param modelId The model to suspend.
    /// @param reason Why, in words, for the public record.
    /// @return version The model's new policy version.
    function suspendModel(string calldata modelId, string calldata reason) external onlyOwner returns (uint64 version) {
        bytes32 key = _validModelKey(modelId);
        Policy storage policy = _policies[key];
        uint64 previous = policy.version;
        if (previous == 0) revert RegistryUnknownModel(modelId);
        if (policy.suspended) revert RegistryAlreadySuspended(modelId, previous);
        version = previous + 1;
        policy.version = version;
        policy.suspended = true;
        emit ModelSuspended(key, modelId, previous, version, reason);
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

    /// @notice Every model id that ever had a policy, in order of first appearance.
    /// @return The model ids.
    function modelIds() external view returns (string[] memory) {
        return _modelIds;
    }

    /// @notice The key under which events index `modelId`.
    /// @param modelId The model.
    /// @return keccak256 of the id's bytes.
    function modelKey(string calldata modelId) external pure returns (bytes32) {
        return keccak256(bytes(modelId));
    }

    function _validModelKey(string calldata modelId) private pure returns (bytes32) {
        uint256 length = bytes(modelId).length;
        if (length == 0 || length > MAX_MODEL_ID_LENGTH) revert RegistryInvalidModelId(modelId);
        return keccak256(bytes(modelId));
    }
}
