// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev Longest model id, in bytes, that the registry holds policies for and the allocator scopes grants to.
/// One constant for both, so that no grant can name a model the registry could never approve.
uint256 constant MODEL_ID_MAX_BYTES = 128;
