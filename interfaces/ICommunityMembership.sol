// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title DAISEE community membership, as the meter registry sees it
/// @notice One non-transferable token per member, worth one vote, whatever the number of meters or
/// tokens the member holds. The registry (REGISTRAR_ROLE) counts a member's active meters in and out:
/// the first meter mints the membership, the last deactivated one burns it.
interface ICommunityMembership {
    /// @notice `member`'s count of active meters changed to `meters`.
    event MeterCountChanged(address indexed member, uint32 meters);

    /// @notice Memberships move only by mint and burn.
    error CommunityMembershipNonTransferable(uint256 tokenId, address from, address to);
    /// @notice A member's vote is its own: delegation is fixed to itself at mint.
    error CommunityMembershipDelegationFixed(address account);
    error CommunityMembershipZeroAddress();
    /// @notice More active meters than a uint32 counts.
    error CommunityMembershipTooManyMeters(address member);

    /// @notice Count one more active meter of `member`; mints its membership (self-delegated) on the first.
    function join(address member) external;

    /// @notice Count one active meter of `member` less; burns its membership on the last. A member
    /// counted no meter (registered before the membership was wired) is left unchanged.
    function leave(address member) external;

    /// @notice Active meters counted for `member`.
    function metersOf(address member) external view returns (uint32);

    /// @notice Whether `account` holds a membership now.
    function isMember(address account) external view returns (bool);

    /// @notice The token id of `member`'s membership (its address as a number, the same on every mint).
    function tokenIdOf(address member) external pure returns (uint256);
}
