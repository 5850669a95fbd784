// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnergyExchange} from "../../contracts/EnergyExchange.sol";
import {IEnergyExchange} from "../../interfaces/IEnergyExchange.sol";
import {TestBase} from "./Base.sol";

/// @notice What the invariant fuzzer may do to the exchange: each external function is one member
/// or oracle action with its random inputs bounded to plausible values, so that most calls get
/// through. A call the exchange still refuses reverts and is skipped (fail_on_revert = false).
/// Ghost variables count what the handler saw happen, for invariants the exchange cannot state.
contract ExchangeHandler is TestBase {
    EnergyExchange internal immutable exchange;
    address internal immutable oracle;
    uint96 internal immutable basePrice;
    address[] internal sellers;
    address[] internal buyers;
    address[] internal members;

    /// @notice Purchase ids handed out (by rule or by hand) while the handler acted.
    uint256 public ghostOpened;
    /// @notice Open purchases the handler saw close (delivered, expired or settled by anyone).
    uint256 public ghostSettled;
    /// @notice Wh each seller delivered in settled purchases: what the buyer's meter counted since
    /// the purchase, capped at the Wh bought (the exchange's settlement rule, restated).
    mapping(address seller => uint256) public ghostDeliveredWh;

    constructor(
        EnergyExchange exchange_,
        address oracle_,
        uint96 basePrice_,
        address[] memory sellers_,
        address[] memory buyers_,
        address[] memory members_
    ) {
        exchange = exchange_;
        oracle = oracle_;
        basePrice = basePrice_;
        sellers = sellers_;
        buyers = buyers_;
        members = members_;
    }

    /// @dev Updates the ghosts around an action from the exchange's views. An action carries at
    /// most one reading per meter, so a buyer's counter afterwards is the one its settlement used.
    modifier tracked() {
        uint32 nextIdBefore = exchange.nextPurchaseId();
        IEnergyExchange.Purchase[] memory before = _openPurchases();
        _;
        ghostOpened += exchange.nextPurchaseId() - nextIdBefore;
        for (uint256 k; k < members.length; ++k) {
            IEnergyExchange.Purchase memory p = before[k];
            IEnergyExchange.MeterInfo memory m = exchange.meter(exchange.meterOf(members[k]));
            if (p.id == 0 || m.openPurchaseId == p.id) continue;
            ++ghostSettled;
            uint256 delivered = m.consumedWh - p.startConsumedWh;
            ghostDeliveredWh[p.seller] += delivered < p.wh ? delivered : p.wh;
        }
    }

    // ------------------------------------------------------------ actions

    /// @notice The oracle reports one meter, some time later: counters grow, the state of charge is
    /// anything, so buyer rules fire, purchases deliver and expire.
    function submitReading(uint256 memberSeed, uint256 addProduced, uint256 addConsumed, uint256 soc, uint256 wait)
        external
        tracked
    {
        uint32 id = exchange.meterOf(_pick(members, memberSeed));
        IEnergyExchange.MeterInfo memory m = exchange.meter(id);
        vm.warp(vm.getBlockTimestamp() + bound(wait, 0, 2 hours));
        IEnergyExchange.Reading[] memory batch = new IEnergyExchange.Reading[](1);
        batch[0] = IEnergyExchange.Reading({
            meterId: id,
            seq: m.seq + 1,
            timestamp: uint40(vm.getBlockTimestamp()),
            producedWh: m.producedWh + uint64(bound(addProduced, 0, 2_000)),
            consumedWh: m.consumedWh + uint64(bound(addConsumed, 0, 500)),
            socPermille: uint16(bound(soc, 0, 1_000))
        });
        vm.prank(oracle);
        exchange.submitReadings(batch);
    }

    /// @notice A buyer without an open purchase buys from a seller by hand, at most what the seller
    /// has available (more is refused before any state changes: a wasted call).
    function buyEnergy(uint256 buyerSeed, uint256 sellerSeed, uint256 wh) external tracked {
        address seller = _pick(sellers, sellerSeed);
        uint256 available = exchange.availableWh(seller);
        vm.prank(_buyer(buyerSeed, false));
        exchange.buyEnergy(seller, bound(wh, 1, available > 1 ? available : 1));
    }

    /// @notice Anyone settles a buyer's open purchase, some time later.
    function settleExpired(uint256 buyerSeed, uint256 wait) external tracked {
        vm.warp(vm.getBlockTimestamp() + bound(wait, 0, 2 hours));
        exchange.settleExpired(exchange.meterOf(_buyer(buyerSeed, true)));
    }

    /// @notice A seller changes its offer: a price of 0 withdraws it, above 2x the buyers' max price is
    /// refused by their rules; the reserve holds energy back from sale.
    function setOffer(uint256 sellerSeed, uint256 price, uint256 reserveWh) external tracked {
        vm.prank(_pick(sellers, sellerSeed));
        exchange.setOffer(uint96(bound(price, 0, 3 * uint256(basePrice))), uint64(bound(reserveWh, 0, 2_000)));
    }

    // ------------------------------------------------------------ helpers

    function _pick(address[] storage from, uint256 seed) private view returns (address) {
        return from[seed % from.length];
    }

    /// @dev The first buyer from a random start that has (or has not) an open purchase, so that fewer
    /// calls are refused for it; the random one when there is none.
    function _buyer(uint256 seed, bool withOpenPurchase) private view returns (address) {
        for (uint256 k; k < buyers.length; ++k) {
            address b = buyers[(seed % buyers.length + k) % buyers.length];
            if ((exchange.meter(exchange.meterOf(b)).openPurchaseId != 0) == withOpenPurchase) return b;
        }
        return _pick(buyers, seed);
    }

    /// @dev Open purchase of every member's meter (id 0: none), in `members` order.
    function _openPurchases() private view returns (IEnergyExchange.Purchase[] memory open) {
        open = new IEnergyExchange.Purchase[](members.length);
        for (uint256 k; k < members.length; ++k) {
            open[k] = exchange.openPurchase(exchange.meterOf(members[k]));
        }
    }
}
