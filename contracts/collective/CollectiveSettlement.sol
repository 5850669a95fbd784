// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {ICollectiveSettlement} from "../../interfaces/ICollectiveSettlement.sol";
import {IPeriodLedger} from "../../interfaces/IPeriodLedger.sol";

/// @title DAISEE collective settlement
/// @notice Local energy of each committed period, settled in the community token (see the interface).
/// @dev Holds no role and no admin: what it may move is fixed by the ledger's statement roots. State is
/// written before every token call, under a re-entrancy guard. Each version of a period settles on its
/// own (a correction's statements carry the regularisation, i.e. the difference, as their amounts).
contract CollectiveSettlement is ICollectiveSettlement, ReentrancyGuard {
    using SafeERC20 for IERC20;

    IPeriodLedger public immutable ledger;
    IERC20 public immutable token;

    mapping(uint64 key => Pot) private _pots;
    mapping(uint64 key => mapping(bytes32 leaf => bool)) private _collected;
    mapping(uint64 key => mapping(bytes32 leaf => uint256)) private _paid;

    constructor(IPeriodLedger ledger_, IERC20 token_) {
        if (address(ledger_) == address(0) || address(token_) == address(0)) revert ZeroAddress();
        ledger = ledger_;
        token = token_;
    }

    /// @inheritdoc ICollectiveSettlement
    function collect(uint32 period, uint32 version, Entry calldata entry, bytes32[] calldata proof)
        external
        nonReentrant
    {
        _collectOne(period, version, entry, proof);
        token.safeTransferFrom(entry.account, address(this), entry.debit);
        emit Collected(period, version, entry.account, entry.debit);
    }

    /// @inheritdoc ICollectiveSettlement
    function collectWithPermit(
        uint32 period,
        uint32 version,
        Entry calldata entry,
        bytes32[] calldata proof,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant {
        _collectOne(period, version, entry, proof);
        // A permit seen in the mempool can be used first by anyone: then the allowance is already there.
        try IERC20Permit(address(token)).permit(entry.account, address(this), entry.debit, deadline, v, r, s) {} catch {}
        token.safeTransferFrom(entry.account, address(this), entry.debit);
        emit Collected(period, version, entry.account, entry.debit);
    }

    /// @inheritdoc ICollectiveSettlement
    function collectMany(uint32 period, uint32 version, Entry[] calldata entries, bytes32[][] calldata proofs)
        external
        nonReentrant
        returns (uint256 count)
    {
        if (entries.length != proofs.length) revert LengthMismatch();
        uint64 key = _key(period, version);
        bytes32 root = _statementRoot(period, version);
        for (uint256 i; i < entries.length; ++i) {
            Entry calldata entry = entries[i];
            if (_collected[key][leafOf(entry)]) continue; // collected meanwhile: a batch is not stopped by it
            bytes32 leaf = _markCollected(key, root, entry, proofs[i]);
            if (token.trySafeTransferFrom(entry.account, address(this), entry.debit)) {
                emit Collected(period, version, entry.account, entry.debit);
                ++count;
            } else {
                _collected[key][leaf] = false;
                _pots[key].collected -= uint128(entry.debit);
                emit CollectionFailed(period, version, entry.account, entry.debit);
            }
        }
    }

    /// @inheritdoc ICollectiveSettlement
    function pay(uint32 period, uint32 version, Entry calldata entry, bytes32[] calldata proof) external nonReentrant {
        if (entry.credit == 0) revert NothingToPay();
        IPeriodLedger.Commitment memory c = _commitment(period, version);
        bytes32 leaf = _verified(c.statementRoot, entry, proof);
        uint64 key = _key(period, version);
        Pot storage p = _pots[key];
        uint256 total = c.settlementTotal;
        // The credit's share of what was collected, capped by the credit itself and by what is unpaid.
        uint256 due = total == 0 ? entry.credit : Math.min(entry.credit, Math.mulDiv(entry.credit, p.collected, total));
        uint256 paidBefore = _paid[key][leaf];
        uint256 amount = Math.min(due > paidBefore ? due - paidBefore : 0, p.collected - p.paid);
        if (amount == 0) revert NothingToPay();
        _paid[key][leaf] = paidBefore + amount;
        p.paid += uint128(amount);
        token.safeTransfer(entry.account, amount);
        emit Paid(period, version, entry.account, amount, paidBefore + amount);
    }

    /// @inheritdoc ICollectiveSettlement
    function pot(uint32 period, uint32 version) external view returns (Pot memory) {
        return _pots[_key(period, version)];
    }

    /// @inheritdoc ICollectiveSettlement
    function collected(uint32 period, uint32 version, bytes32 leaf) external view returns (bool) {
        return _collected[_key(period, version)][leaf];
    }

    /// @inheritdoc ICollectiveSettlement
    function paidTo(uint32 period, uint32 version, bytes32 leaf) external view returns (uint256) {
        return _paid[_key(period, version)][leaf];
    }

    /// @inheritdoc ICollectiveSettlement
    function leafOf(Entry calldata entry) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(entry))));
    }

    /// @dev Checks the entry and records its debit as collected (the caller moves the tokens next).
    function _markCollected(uint64 key, bytes32 root, Entry calldata entry, bytes32[] calldata proof)
        private
        returns (bytes32 leaf)
    {
        if (entry.debit == 0) revert NothingToCollect();
        leaf = _verified(root, entry, proof);
        if (_collected[key][leaf]) revert AlreadyCollected();
        _collected[key][leaf] = true;
        _pots[key].collected += SafeCast.toUint128(entry.debit);
    }

    function _collectOne(uint32 period, uint32 version, Entry calldata entry, bytes32[] calldata proof) private {
        _markCollected(_key(period, version), _statementRoot(period, version), entry, proof);
    }

    function _verified(bytes32 root, Entry calldata entry, bytes32[] calldata proof)
        private
        pure
        returns (bytes32 leaf)
    {
        leaf = leafOf(entry);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof();
    }

    /// @dev The ledger's commitment (it reverts NotCommitted); 0 means "latest" to the ledger, not here.
    function _commitment(uint32 period, uint32 version) private view returns (IPeriodLedger.Commitment memory) {
        if (version == 0) revert NoSuchVersion();
        return ledger.commitment(period, version);
    }

    function _statementRoot(uint32 period, uint32 version) private view returns (bytes32) {
        return _commitment(period, version).statementRoot;
    }

    function _key(uint32 period, uint32 version) private pure returns (uint64) {
        return (uint64(period) << 32) | version;
    }
}
