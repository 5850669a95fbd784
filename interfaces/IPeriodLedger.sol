// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title DAISEE period ledger
/// @notice The public, tamper-evident record of each collective self-consumption period: the Merkle
/// roots of its checked inputs, its allocation and its statements, the rules version it applied and
/// the total of its local-energy settlement. Interval values stay off chain; members prove theirs.
/// @dev Leaves follow OpenZeppelin's StandardMerkleTree: keccak256(keccak256(abi.encode(values))),
/// each member's leaves salted with a secret only that member and the PMO hold. A correction is a
/// new version of the period; earlier versions stay readable and their history is in the events.
interface IPeriodLedger {
    /// @notice The three trees committed for a period.
    enum Tree {
        Inputs,
        Allocation,
        Statements
    }

    /// @notice One version of a period.
    /// @param settlementTotal Token base units the statements' local-energy debits (and credits) sum to.
    struct Commitment {
        bytes32 inputsRoot;
        bytes32 allocationRoot;
        bytes32 statementRoot;
        uint128 settlementTotal;
        uint32 rulesVersion;
        uint40 committedAt;
    }

    /// @notice `version` of `period` was committed; it supersedes every earlier version.
    event PeriodCommitted(
        uint32 indexed period,
        uint32 indexed version,
        bytes32 inputsRoot,
        bytes32 allocationRoot,
        bytes32 statementRoot,
        uint32 rulesVersion,
        uint128 settlementTotal
    );

    /// @notice Versions of a period are 1, 2, 3, ... with no gap: `expected` comes next.
    error VersionNotNext(uint32 period, uint32 expected, uint32 given);
    /// @notice A root may not be zero (no tree has it).
    error EmptyRoot();
    /// @notice A period that has not begun cannot be committed.
    error PeriodInFuture(uint32 period, uint32 current);
    /// @notice No such version of the period was committed.
    error NotCommitted(uint32 period, uint32 version);

    /// @notice Commit the next version of `period`.
    function commit(uint32 period, uint32 version, Commitment calldata roots) external;

    /// @notice The latest version of `period` (0: never committed).
    function latestVersion(uint32 period) external view returns (uint32);

    /// @notice One committed version (reverts NotCommitted).
    function commitment(uint32 period, uint32 version) external view returns (Commitment memory);

    /// @notice Whether `leaf` (a StandardMerkleTree leaf hash) is in `tree` of `version` of `period`.
    /// @param version 0 for the latest version.
    function verify(uint32 period, uint32 version, Tree tree, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
