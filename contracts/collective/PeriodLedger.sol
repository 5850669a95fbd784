// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IPeriodLedger} from "../../interfaces/IPeriodLedger.sol";
import {Periods} from "../libraries/Periods.sol";

/// @title DAISEE period ledger
/// @notice The PMO (COMMITTER_ROLE) commits each period's roots; anyone verifies a leaf against them.
/// @dev Every version is kept: a statement of version 1 stays verifiable after a correction.
contract PeriodLedger is IPeriodLedger, AccessControlDefaultAdminRules {
    /// @notice Commits periods: the provider/PMO that runs the collective operation.
    bytes32 public constant COMMITTER_ROLE = keccak256("COMMITTER_ROLE");

    /// @inheritdoc IPeriodLedger
    mapping(uint32 period => uint32) public latestVersion;
    mapping(uint32 period => mapping(uint32 version => Commitment)) private _commitments;

    /// @param admin Holds DEFAULT_ADMIN_ROLE (grants COMMITTER_ROLE), handed over in two steps.
    /// @param adminDelay Seconds a new admin must wait before accepting the role.
    constructor(address admin, uint48 adminDelay) AccessControlDefaultAdminRules(adminDelay, admin) {}

    /// @inheritdoc IPeriodLedger
    function commit(uint32 period, uint32 version, Commitment calldata roots) external onlyRole(COMMITTER_ROLE) {
        Periods.check(period);
        uint32 current = Periods.ofTimestamp(block.timestamp);
        if (period > current) revert PeriodInFuture(period, current);
        uint32 expected = latestVersion[period] + 1;
        if (version != expected) revert VersionNotNext(period, expected, version);
        if (roots.inputsRoot == 0 || roots.allocationRoot == 0 || roots.statementRoot == 0) revert EmptyRoot();
        latestVersion[period] = version;
        _commitments[period][version] = Commitment({
            inputsRoot: roots.inputsRoot,
            allocationRoot: roots.allocationRoot,
            statementRoot: roots.statementRoot,
            settlementTotal: roots.settlementTotal,
            rulesVersion: roots.rulesVersion,
            committedAt: uint40(block.timestamp)
        });
        emit PeriodCommitted(
            period,
            version,
            roots.inputsRoot,
            roots.allocationRoot,
            roots.statementRoot,
            roots.rulesVersion,
            roots.settlementTotal
        );
    }

    /// @inheritdoc IPeriodLedger
    function commitment(uint32 period, uint32 version) public view returns (Commitment memory c) {
        c = _commitments[period][version];
        if (c.committedAt == 0) revert NotCommitted(period, version);
    }

    /// @inheritdoc IPeriodLedger
    function verify(uint32 period, uint32 version, Tree tree, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Commitment memory c = commitment(period, version == 0 ? latestVersion[period] : version);
        bytes32 root = tree == Tree.Inputs ? c.inputsRoot : tree == Tree.Allocation ? c.allocationRoot : c.statementRoot;
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
