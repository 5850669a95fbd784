// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Votes} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Votes.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

import {ICommunityMembership} from "../../interfaces/ICommunityMembership.sol";

/// @title DAISEE community membership: one member, one vote
/// @notice A cooperative's membership as a non-transferable ERC721Votes token: minted to a member
/// when the operator registers its first meter, burned when its last active meter is deactivated.
/// Each member delegates to itself at mint, so its vote counts from the block it joins (no separate
/// `delegate` call), and can never delegate elsewhere. Voting power is 0 or 1 whatever the number of
/// meters. The clock is a timestamp (ERC-6372): PoA block times drift, a week is a week.
/// @dev Token id = the member's address as a number: a member holds at most one, and a burned
/// membership re-minted later has the same id. Transfers, approvals and delegation all revert.
contract CommunityMembership is ICommunityMembership, ERC721Votes, AccessControlDefaultAdminRules {
    /// @notice Held by the meter registry (the EnergyExchange): the only minter and burner.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    mapping(address member => uint32 meters) public metersOf;

    /// @param admin Holds DEFAULT_ADMIN_ROLE (who may grant REGISTRAR_ROLE): the timelock after hand-over.
    /// @param adminDelay Seconds a new admin waits before accepting the role.
    constructor(address admin, uint48 adminDelay)
        ERC721("DAISEE community membership", "DAISEE-M")
        EIP712("DAISEE community membership", "1")
        AccessControlDefaultAdminRules(adminDelay, admin)
    {}

    // ------------------------------------------------------------ registrar

    /// @inheritdoc ICommunityMembership
    function join(address member) external onlyRole(REGISTRAR_ROLE) {
        if (member == address(0)) revert CommunityMembershipZeroAddress();
        uint32 meters = metersOf[member];
        if (meters == type(uint32).max) revert CommunityMembershipTooManyMeters(member);
        unchecked {
            ++meters; // checked against the maximum above
        }
        metersOf[member] = meters;
        emit MeterCountChanged(member, meters);
        if (meters == 1) _mint(member, tokenIdOf(member));
    }

    /// @inheritdoc ICommunityMembership
    function leave(address member) external onlyRole(REGISTRAR_ROLE) {
        uint32 meters = metersOf[member];
        if (meters == 0) return;
        unchecked {
            --meters; // > 0 above
        }
        metersOf[member] = meters;
        emit MeterCountChanged(member, meters);
        if (meters == 0) _burn(tokenIdOf(member));
    }

    // ------------------------------------------------------------ views

    /// @inheritdoc ICommunityMembership
    function isMember(address account) external view returns (bool) {
        return _ownerOf(tokenIdOf(account)) != address(0);
    }

    /// @inheritdoc ICommunityMembership
    function tokenIdOf(address member) public pure returns (uint256) {
        return uint256(uint160(member));
    }

    /// @notice ERC-6372: block timestamps, not block numbers.
    function clock() public view override returns (uint48) {
        return Time.timestamp();
    }

    /// @notice ERC-6372 clock description.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, AccessControlDefaultAdminRules)
        returns (bool)
    {
        return ERC721.supportsInterface(interfaceId) || AccessControlDefaultAdminRules.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------ not transferable, not delegable
    // (they keep the standard ERC-721 / IVotes mutability in the ABI, although they only revert)

    /// @notice Always reverts: a membership is not transferable.
    function approve(address, uint256 tokenId) public override {
        revert CommunityMembershipNonTransferable(tokenId, address(0), address(0));
    }

    /// @notice Always reverts: a membership is not transferable.
    function setApprovalForAll(address operator, bool) public override {
        revert CommunityMembershipNonTransferable(0, address(0), operator);
    }

    /// @notice Always reverts: each member votes itself (delegated to itself at mint).
    function delegate(address) public override {
        revert CommunityMembershipDelegationFixed(msg.sender);
    }

    /// @notice Always reverts: each member votes itself (delegated to itself at mint).
    function delegateBySig(address delegatee, uint256, uint256, uint8, bytes32, bytes32) public override {
        revert CommunityMembershipDelegationFixed(delegatee);
    }

    /// @dev The one hook of mint, burn and transfer: a transfer reverts; a mint first delegates the
    /// new member to itself, so the vote unit the mint moves lands on the member.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        address from = _ownerOf(tokenId);
        if (from != address(0) && to != address(0)) revert CommunityMembershipNonTransferable(tokenId, from, to);
        if (from == address(0) && delegates(to) != to) _delegate(to, to);
        return super._update(to, tokenId, auth);
    }
}
