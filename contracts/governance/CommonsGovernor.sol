// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {GovernorCountingSimple} from "@openzeppelin/contracts/governance/extensions/GovernorCountingSimple.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {GovernorVotesQuorumFraction} from "@openzeppelin/contracts/governance/extensions/GovernorVotesQuorumFraction.sol";
import {GovernorTimelockControl} from "@openzeppelin/contracts/governance/extensions/GovernorTimelockControl.sol";
import {GovernorPreventLateQuorum} from "@openzeppelin/contracts/governance/extensions/GovernorPreventLateQuorum.sol";
import {GovernorNoncesKeyed} from "@openzeppelin/contracts/governance/extensions/GovernorNoncesKeyed.sol";
import {GovernorProposalGuardian} from "@openzeppelin/contracts/governance/extensions/GovernorProposalGuardian.sol";
import {GovernorSuperQuorum} from "@openzeppelin/contracts/governance/extensions/GovernorSuperQuorum.sol";
// solhint-disable-next-line max-line-length
import {GovernorVotesSuperQuorumFraction} from "@openzeppelin/contracts/governance/extensions/GovernorVotesSuperQuorumFraction.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title AI Commons governor
/// @notice Token holders propose and vote on model guidelines and resource allocation; what passes is
/// executed by the timelock. Every behaviour comes from an OpenZeppelin extension; this contract only
/// bounds the settings governance may choose.
/// - Per-proposal vote nonces (GovernorNoncesKeyed): a ballot signed for one proposal stays valid when
///   the voter votes on another one.
/// - A proposal guardian (GovernorProposalGuardian), appointed, replaced and removed by governance, may
///   cancel any proposal before execution; the policy registry lets the same guardian suspend a model.
/// - A super quorum of For votes (GovernorVotesSuperQuorumFraction) makes a proposal succeed before its
///   deadline; it still waits for the timelock.
/// @dev Clock: timestamps, inherited from the token (see CommonsToken). Delay, period, threshold, quorum,
/// super quorum, late-quorum extension (bounded by OpenZeppelin by the voting period) and guardian are
/// changeable only through governance.
contract CommonsGovernor is
    Governor,
    GovernorSettings,
    GovernorCountingSimple,
    GovernorVotes,
    GovernorVotesQuorumFraction,
    GovernorVotesSuperQuorumFraction,
    GovernorPreventLateQuorum,
    GovernorTimelockControl,
    GovernorNoncesKeyed,
    GovernorProposalGuardian
{
    /// @notice Longest voting delay governance may set: a proposal should not wait a month to open.
    uint256 public constant MAX_VOTING_DELAY = 30 days;
    /// @notice Shortest voting period: holders need time to notice a proposal and vote.
    uint256 public constant MIN_VOTING_PERIOD = 1 minutes;
    /// @notice Longest voting period.
    uint256 public constant MAX_VOTING_PERIOD = 90 days;
    /// @notice Smallest quorum, in percent: a proposal must never pass on a handful of votes.
    uint256 public constant MIN_QUORUM_PERCENT = 1;

    /// @notice A governance setting is outside its bounds [minimum, maximum].
    error GovernorSettingOutOfBounds(string setting, uint256 value, uint256 minimum, uint256 maximum);

    /// @notice Initial governance parameters, all in seconds except the threshold (token wei) and quorum (percent).
    struct Params {
        uint48 votingDelay;
        uint32 votingPeriod;
        uint256 proposalThreshold;
        uint256 quorumPercent;
        uint48 lateQuorumExtension;
        uint256 superQuorumPercent;
        address proposalGuardian;
    }

    /// @param token The voting token (ERC20Votes, timestamp clock).
    /// @param timelock The timelock that executes passed proposals.
    /// @param params Initial delay, period, threshold, quorum, late-quorum extension, super quorum and guardian
    /// (zero: none; then a proposer may cancel their own proposal at any time).
    constructor(
        IVotes token,
        TimelockController timelock,
        Params memory params
    )
        Governor("AI Commons Governor")
        GovernorSettings(params.votingDelay, params.votingPeriod, params.proposalThreshold)
        GovernorVotes(token)
        GovernorVotesQuorumFraction(params.quorumPercent)
        GovernorVotesSuperQuorumFraction(params.superQuorumPercent)
        GovernorPreventLateQuorum(params.lateQuorumExtension)
        GovernorTimelockControl(timelock)
    {
        _setProposalGuardian(params.proposalGuardian);
    }

    /// @inheritdoc Governor
    function votingDelay() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingDelay();
    }

    /// @inheritdoc Governor
    function votingPeriod() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingPeriod();
    }

    /// @inheritdoc Governor
    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }

    /// @inheritdoc Governor
    function state(
        uint256 proposalId
    )
        public
        view
        override(Governor, GovernorVotesSuperQuorumFraction, GovernorTimelockControl)
        returns (ProposalState)
    {
        return super.state(proposalId);
    }

    /// @inheritdoc Governor
    function proposalDeadline(
        uint256 proposalId
    ) public view override(Governor, GovernorPreventLateQuorum) returns (uint256) {
        return super.proposalDeadline(proposalId);
    }

    /// @inheritdoc Governor
    function proposalNeedsQueuing(
        uint256 proposalId
    ) public view override(Governor, GovernorTimelockControl) returns (bool) {
        return super.proposalNeedsQueuing(proposalId);
    }

    /// @inheritdoc GovernorSuperQuorum
    function proposalVotes(
        uint256 proposalId
    )
        public
        view
        override(GovernorCountingSimple, GovernorSuperQuorum)
        returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes)
    {
        return super.proposalVotes(proposalId);
    }

    function _setVotingDelay(uint48 newVotingDelay) internal override {
        _checkBounds("votingDelay", newVotingDelay, 0, MAX_VOTING_DELAY);
        super._setVotingDelay(newVotingDelay);
    }

    function _setVotingPeriod(uint32 newVotingPeriod) internal override {
        _checkBounds("votingPeriod", newVotingPeriod, MIN_VOTING_PERIOD, MAX_VOTING_PERIOD);
        super._setVotingPeriod(newVotingPeriod);
    }

    /// @dev Never zero: a threshold of 0 lets any address spam proposals (the development chain keeps it low).
    /// At most the token's supply, or nobody could propose again; the constructor sets the first threshold
    /// before GovernorVotes sets the token, so only the lower bound applies to it.
    function _setProposalThreshold(uint256 newProposalThreshold) internal override {
        uint256 maximum = address(token()) == address(0) ? type(uint256).max : token().getPastTotalSupply(clock() - 1);
        _checkBounds("proposalThreshold", newProposalThreshold, 1, maximum);
        super._setProposalThreshold(newProposalThreshold);
    }

    function _updateQuorumNumerator(
        uint256 newQuorumNumerator
    ) internal override(GovernorVotesQuorumFraction, GovernorVotesSuperQuorumFraction) {
        _checkBounds("quorumNumerator", newQuorumNumerator, MIN_QUORUM_PERCENT, quorumDenominator());
        super._updateQuorumNumerator(newQuorumNumerator);
    }

    function _useCheckedNonce(address owner, uint256 nonce) internal override(Nonces, GovernorNoncesKeyed) {
        super._useCheckedNonce(owner, nonce);
    }

    function _validateVoteSig(
        uint256 proposalId,
        uint8 support,
        address voter,
        bytes memory signature
    ) internal override(Governor, GovernorNoncesKeyed) returns (bool) {
        return super._validateVoteSig(proposalId, support, voter, signature);
    }

    function _validateExtendedVoteSig(
        uint256 proposalId,
        uint8 support,
        address voter,
        string memory reason,
        bytes memory params,
        bytes memory signature
    ) internal override(Governor, GovernorNoncesKeyed) returns (bool) {
        return super._validateExtendedVoteSig(proposalId, support, voter, reason, params, signature);
    }

    function _validateCancel(
        uint256 proposalId,
        address caller
    ) internal view override(Governor, GovernorProposalGuardian) returns (bool) {
        return super._validateCancel(proposalId, caller);
    }

    function _checkBounds(string memory setting, uint256 value, uint256 minimum, uint256 maximum) private pure {
        if (value < minimum || value > maximum) revert GovernorSettingOutOfBounds(setting, value, minimum, maximum);
    }

    function _tallyUpdated(uint256 proposalId) internal override(Governor, GovernorPreventLateQuorum) {
        super._tallyUpdated(proposalId);
    }

    function _queueOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint48) {
        return super._queueOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _executeOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) {
        super._executeOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _cancel(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint256) {
        return super._cancel(targets, values, calldatas, descriptionHash);
    }

    function _executor() internal view override(Governor, GovernorTimelockControl) returns (address) {
        return super._executor();
    }
}
