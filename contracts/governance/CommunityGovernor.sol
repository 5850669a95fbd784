// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Governor} from "./oz/Governor.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {GovernorCountingSimple} from "./oz/extensions/GovernorCountingSimple.sol";
import {GovernorSettings} from "./oz/extensions/GovernorSettings.sol";
import {GovernorTimelockControl} from "./oz/extensions/GovernorTimelockControl.sol";
import {GovernorVotes} from "./oz/extensions/GovernorVotes.sol";
import {GovernorVotesQuorumFraction} from "./oz/extensions/GovernorVotesQuorumFraction.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

/// @title DAISEE community governor
/// @notice The members' vote, one member one vote (CommunityMembership): a member proposes
/// (threshold: one vote), members vote for/against/abstain during the voting period, a proposal
/// that reaches the quorum (a fraction of the members at its snapshot, for + abstain) with more for
/// than against is queued in the TimelockController, which executes it after its delay. The
/// timelock holds the admin role of the exchange, the membership and the rules.
/// @dev Only composes OpenZeppelin's modules. The clock is the membership's: timestamps (ERC-6372),
/// so delays and periods are in seconds.
contract CommunityGovernor is
    Governor,
    GovernorSettings,
    GovernorCountingSimple,
    GovernorVotes,
    GovernorVotesQuorumFraction,
    GovernorTimelockControl
{
    /// @notice `account` held no membership at the proposal's snapshot: it has no vote to cast.
    error CommunityGovernorNotAMember(address account, uint256 snapshot);

    /// @param membership The one-member-one-vote token (timestamp clock).
    /// @param timelock Executes what passes, after its minimum delay.
    /// @param votingDelay_ Seconds from proposal to the vote's snapshot and opening.
    /// @param votingPeriod_ Seconds the vote stays open.
    /// @param quorumPercent Share of the members (at the snapshot) whose for + abstain votes make a quorum.
    constructor(
        IVotes membership,
        TimelockController timelock,
        uint48 votingDelay_,
        uint32 votingPeriod_,
        uint256 quorumPercent
    )
        Governor("DAISEE community governor")
        GovernorSettings(votingDelay_, votingPeriod_, 1)
        GovernorVotes(membership)
        GovernorVotesQuorumFraction(quorumPercent)
        GovernorTimelockControl(timelock)
    {}

    /// @dev OpenZeppelin records a vote of weight 0 (and marks the account as having voted); here a
    /// non-member's vote is refused outright, with its own error.
    function _countVote(uint256 proposalId, address account, uint8 support, uint256 totalWeight, bytes memory params)
        internal
        override(Governor, GovernorCountingSimple)
        returns (uint256)
    {
        if (totalWeight == 0) revert CommunityGovernorNotAMember(account, proposalSnapshot(proposalId));
        return super._countVote(proposalId, account, support, totalWeight, params);
    }

    // ------------------------------------------------------------ compositions required by Solidity

    function votingDelay() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingDelay();
    }

    function votingPeriod() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingPeriod();
    }

    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }

    function quorum(uint256 timepoint) public view override(Governor, GovernorVotesQuorumFraction) returns (uint256) {
        return super.quorum(timepoint);
    }

    function state(uint256 proposalId) public view override(Governor, GovernorTimelockControl) returns (ProposalState) {
        return super.state(proposalId);
    }

    function proposalNeedsQueuing(uint256 proposalId)
        public
        view
        override(Governor, GovernorTimelockControl)
        returns (bool)
    {
        return super.proposalNeedsQueuing(proposalId);
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
