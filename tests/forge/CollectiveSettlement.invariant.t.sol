// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

import {CollectiveSettlement} from "../../contracts/collective/CollectiveSettlement.sol";
import {PeriodLedger} from "../../contracts/collective/PeriodLedger.sol";
import {EnergyToken} from "../../contracts/EnergyToken.sol";
import {ICollectiveSettlement} from "../../interfaces/ICollectiveSettlement.sol";
import {IPeriodLedger} from "../../interfaces/IPeriodLedger.sol";
import {InvariantTest, TestBase} from "./Base.sol";

uint32 constant PERIOD = 202507;

/// @notice Drives the settlement of one committed period: members funding (or not) and approving,
/// anyone collecting one debit or a batch, paying creditors, and trying tampered entries.
contract SettlementHandler is TestBase {
    CollectiveSettlement internal immutable settlement;
    EnergyToken internal immutable token;
    ICollectiveSettlement.Entry[] internal _entries;
    bytes32[][] internal _proofs;

    uint256 public ghostMinted;
    bool public ghostTamperedAccepted;

    constructor(CollectiveSettlement settlement_, EnergyToken token_, ICollectiveSettlement.Entry[] memory entries,
        bytes32[][] memory proofs)
    {
        settlement = settlement_;
        token = token_;
        for (uint256 i; i < entries.length; ++i) {
            _entries.push(entries[i]);
            _proofs.push(proofs[i]);
        }
    }

    function entry(uint256 i) external view returns (ICollectiveSettlement.Entry memory) {
        return _entries[i];
    }

    function count() external view returns (uint256) {
        return _entries.length;
    }

    /// @notice A member gets some tokens (maybe less than its debit) and allows some amount.
    function fund(uint256 i, uint256 amount, uint256 allowance) external {
        ICollectiveSettlement.Entry memory e = _entries[bound(i, 0, _entries.length - 1)];
        amount = bound(amount, 0, 2 * e.debit + 1);
        token.mint(e.account, amount);
        ghostMinted += amount;
        vm.prank(e.account);
        token.approve(address(settlement), bound(allowance, 0, 2 * e.debit + 1));
    }

    function collect(uint256 i) external {
        i = bound(i, 0, _entries.length - 1);
        settlement.collect(PERIOD, 1, _entries[i], _proofs[i]);
    }

    function collectMany(uint256 mask) external {
        uint256 n;
        for (uint256 i; i < _entries.length; ++i) {
            if (mask >> i & 1 == 1 && _entries[i].debit > 0) ++n;
        }
        ICollectiveSettlement.Entry[] memory batch = new ICollectiveSettlement.Entry[](n);
        bytes32[][] memory proofs = new bytes32[][](n);
        n = 0;
        for (uint256 i; i < _entries.length; ++i) {
            if (mask >> i & 1 == 1 && _entries[i].debit > 0) {
                batch[n] = _entries[i];
                proofs[n++] = _proofs[i];
            }
        }
        settlement.collectMany(PERIOD, 1, batch, proofs);
    }

    function pay(uint256 i) external {
        i = bound(i, 0, _entries.length - 1);
        settlement.pay(PERIOD, 1, _entries[i], _proofs[i]);
    }

    /// @notice An entry with one amount changed must never be accepted.
    function tampered(uint256 i, uint256 delta, bool onCredit) external {
        i = bound(i, 0, _entries.length - 1);
        ICollectiveSettlement.Entry memory e = _entries[i];
        delta = bound(delta, 1, 1e24);
        if (onCredit) e.credit += delta;
        else e.debit += delta;
        try settlement.pay(PERIOD, 1, e, _proofs[i]) {
            ghostTamperedAccepted = true;
        } catch {}
        try settlement.collect(PERIOD, 1, e, _proofs[i]) {
            ghostTamperedAccepted = true;
        } catch {}
    }
}

/// @notice Settlement invariants: collected ≥ paid per period, each leaf collected once and each credit
/// never overpaid, the contract holding exactly collected − paid, token supply conserved.
contract CollectiveSettlementInvariantTest is InvariantTest {
    EnergyToken internal token;
    PeriodLedger internal ledger;
    CollectiveSettlement internal settlement;
    SettlementHandler internal handler;
    uint256 internal total;

    function setUp() public {
        vm.warp(1_752_537_600); // 2025-07-15: the period has begun
        token = new EnergyToken(address(this));
        ledger = new PeriodLedger(address(this), 0);
        ledger.grantRole(ledger.COMMITTER_ROLE(), address(this));
        settlement = new CollectiveSettlement(ledger, token);

        // 4 debtors and 4 creditors with uneven amounts; Σ debit == Σ credit.
        uint256[4] memory debits = [uint256(3e18 + 1), 7e18, 11e18 + 3, 13e18 + 7];
        uint256[4] memory credits = [uint256(17e18 + 2), 9e18 + 5, 5e18 + 3, 3e18 + 1];
        ICollectiveSettlement.Entry[] memory entries = new ICollectiveSettlement.Entry[](8);
        bytes32[] memory leaves = new bytes32[](8);
        for (uint256 i; i < 8; ++i) {
            address account = address(uint160(0xA000 + i));
            entries[i] = ICollectiveSettlement.Entry({
                salt: keccak256(abi.encode("salt", i)),
                account: account,
                member: keccak256(abi.encode("member", i)),
                debit: i < 4 ? debits[i] : 0,
                credit: i < 4 ? 0 : credits[i - 4],
                statement: keccak256(abi.encode("statement", i))
            });
            leaves[i] = settlement.leafOf(entries[i]);
            total += entries[i].debit;
        }
        (bytes32 root, bytes32[][] memory proofs) = _tree(leaves);
        ledger.commit(
            PERIOD,
            1,
            IPeriodLedger.Commitment({
                inputsRoot: bytes32(uint256(1)),
                allocationRoot: bytes32(uint256(2)),
                statementRoot: root,
                settlementTotal: uint128(total),
                rulesVersion: 1,
                committedAt: 0
            })
        );
        handler = new SettlementHandler(settlement, token, entries, proofs);
        token.grantRole(token.MINTER_ROLE(), address(handler));
        targetContract(address(handler));
    }

    /// @dev A complete tree of 8 leaves with OpenZeppelin's commutative node hash, and each leaf's proof.
    function _tree(bytes32[] memory level) private pure returns (bytes32, bytes32[][] memory proofs) {
        proofs = new bytes32[][](8);
        for (uint256 i; i < 8; ++i) {
            proofs[i] = new bytes32[](3);
        }
        for (uint256 depth; depth < 3; ++depth) {
            for (uint256 i; i < 8; ++i) {
                proofs[i][depth] = level[(i >> depth) ^ 1];
            }
            bytes32[] memory up = new bytes32[](level.length / 2);
            for (uint256 j; j < up.length; ++j) {
                up[j] = Hashes.commutativeKeccak256(level[2 * j], level[2 * j + 1]);
            }
            level = up;
        }
        return (level[0], proofs);
    }

    function invariant_neverPaysMoreThanCollected() external view {
        ICollectiveSettlement.Pot memory p = settlement.pot(PERIOD, 1);
        vm.assertTrue(p.paid <= p.collected, "paid > collected");
        vm.assertTrue(p.collected <= total, "collected > total");
    }

    function invariant_holdsExactlyCollectedMinusPaid() external view {
        ICollectiveSettlement.Pot memory p = settlement.pot(PERIOD, 1);
        vm.assertEq(token.balanceOf(address(settlement)), p.collected - p.paid, "balance != collected - paid");
    }

    function invariant_eachLeafCollectedOnceAndNoCreditOverpaid() external view {
        uint256 collected;
        for (uint256 i; i < handler.count(); ++i) {
            ICollectiveSettlement.Entry memory e = handler.entry(i);
            bytes32 leaf = settlement.leafOf(e);
            if (settlement.collected(PERIOD, 1, leaf)) collected += e.debit;
            vm.assertTrue(settlement.paidTo(PERIOD, 1, leaf) <= e.credit, "credit overpaid");
        }
        vm.assertEq(settlement.pot(PERIOD, 1).collected, collected, "pot != sum of collected leaves");
    }

    function invariant_supplyConserved() external view {
        uint256 held = token.balanceOf(address(settlement));
        for (uint256 i; i < handler.count(); ++i) {
            held += token.balanceOf(handler.entry(i).account);
        }
        vm.assertEq(token.totalSupply(), held, "tokens outside the parties and the settlement");
        vm.assertEq(token.totalSupply(), handler.ghostMinted(), "supply != minted");
    }

    function invariant_tamperedEntriesNeverAccepted() external view {
        vm.assertTrue(!handler.ghostTamperedAccepted(), "a tampered entry was accepted");
    }
}
