// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title AI Commons timelock
/// @notice Executes what the governor passed after a delay, and owns the policy registry and the
/// resource allocator. The deployment hands the proposer and canceller roles to the governor, opens
/// the executor role to anyone and renounces the deployer's admin role.
contract CommonsTimelock is TimelockController {
    /// @param minDelay Seconds between queueing and execution.
    /// @param proposers Accounts allowed to schedule (the governor, once deployed).
    /// @param executors Accounts allowed to execute (address(0) opens execution to anyone).
    /// @param admin Optional temporary admin used during deployment, renounced afterwards.
    constructor(
        uint256 minDelay,
        address[] memory proposers,
        address[] memory executors,
        address admin
    ) TimelockController(minDelay, proposers, executors, admin) {}
}
