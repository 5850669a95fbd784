// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnergyExchange} from "../../contracts/EnergyExchange.sol";
import {CallbackToken} from "../../contracts/mocks/CallbackToken.sol";
import {ReentrantMember} from "../../contracts/mocks/ReentrantMember.sol";
import {IEnergyExchange} from "../../interfaces/IEnergyExchange.sol";
import {TestBase} from "./Base.sol";

/// @notice Everything anyone can do to the exchange, for the invariant fuzzer: the gateways' honest
/// batches, every member action with raw parameters (zeros and extremes included, one call in two
/// bounded to plausible values so trades happen), the operator's and the admin's actions, and a
/// member contract re-entering from its token hooks. A call the exchange refuses is skipped
/// (fail_on_revert = false), except a gateway's well-formed batch: that one must never revert
/// while unpaused, whatever the members set, and the handler records it if it does.
contract ExchangeHandler is TestBase {
    EnergyExchange internal immutable exchange;
    CallbackToken internal immutable token;
    ReentrantMember internal immutable attacker;
    address internal immutable admin; // admin and operator
    uint96 internal immutable basePrice;
    address[] internal gateways;
    address[] internal sellers;
    address[] internal buyers;
    address[] internal members;

    uint256 public ghostOpened; // purchase ids handed out
    uint256 public ghostSettled; // open purchases seen closing
    bytes public ghostHonestBatchRevert; // the revert data of a well-formed gateway batch, if ever
    bool public ghostHonestBatchReverted;
    bool public ghostOversold; // a seller committed more than it had available
    bool public ghostGuardBypassed; // a re-entry into a guarded function succeeded
    bool internal _armedGuarded;

    constructor(
        EnergyExchange exchange_,
        CallbackToken token_,
        ReentrantMember attacker_,
        address admin_,
        uint96 basePrice_,
        address[] memory gateways_,
        address[] memory sellers_,
        address[] memory buyers_,
        address[] memory members_
    ) {
        (exchange, token, attacker, admin, basePrice) = (exchange_, token_, attacker_, admin_, basePrice_);
        (gateways, sellers, buyers, members) = (gateways_, sellers_, buyers_, members_);
    }

    /// @dev Counts purchases opened and closed around an action, and checks that no seller's
    /// committed energy grew by more than it had available (plus what it produced meanwhile).
    modifier tracked() {
        uint32 nextIdBefore = exchange.nextPurchaseId();
        uint256[] memory openBefore = _openIds();
        (uint256[] memory availableBefore, IEnergyExchange.MeterInfo[] memory sellerBefore) = _sellerState();
        _;
        ghostOpened += exchange.nextPurchaseId() - nextIdBefore;
        uint256[] memory openAfter = _openIds();
        for (uint256 k; k < members.length; ++k) {
            if (openBefore[k] != 0 && openAfter[k] != openBefore[k]) ++ghostSettled;
        }
        for (uint256 s; s < sellers.length; ++s) {
            IEnergyExchange.MeterInfo memory m = exchange.meter(exchange.meterOf(sellers[s]));
            IEnergyExchange.MeterInfo memory b = sellerBefore[s];
            if (m.committedWh <= b.committedWh || m.seq < b.seq) continue; // nothing sold, or meter replaced
            int256 produced = int256(uint256(m.producedWh - b.producedWh)) - int256(uint256(m.consumedWh - b.consumedWh));
            uint256 gained = produced > 0 ? uint256(produced) : 0;
            if (m.committedWh - b.committedWh > availableBefore[s] + gained) ghostOversold = true;
        }
        if (_armedGuarded && attacker.reentrySucceeded()) ghostGuardBypassed = true;
    }

    // ------------------------------------------------------------ oracles

    /// @notice A gateway reports every active meter of its street once, some time later: counters
    /// grow, the state of charge is anything, so rules fire and purchases deliver and expire.
    function gatewayReports(uint256 gatewaySeed, uint256 seed, uint256 wait) external tracked {
        vm.warp(vm.getBlockTimestamp() + bound(wait, 0, 2 hours));
        address gateway = gateways[gatewaySeed % gateways.length];
        uint256[] memory batch = _batch(exchange.gatewayIndexOf(gateway), seed);
        if (batch.length == 0 || exchange.paused()) return;
        vm.prank(gateway);
        try exchange.submitReadings(batch) {}
        catch (bytes memory reason) {
            ghostHonestBatchReverted = true;
            ghostHonestBatchRevert = reason;
        }
    }

    // ------------------------------------------------------------ members

    function setOffer(uint256 sellerSeed, uint256 price, uint256 reserveWh) external tracked {
        price = _value(price, 3 * uint256(basePrice), type(uint96).max);
        reserveWh = _value(reserveWh, 2_000, type(uint64).max);
        vm.prank(_pick(sellers, sellerSeed));
        exchange.setOffer(uint96(price), uint64(reserveWh));
    }

    function setRule(uint256 buyerSeed, uint256 threshold, uint256 deltaWh, uint256 maxPrice, uint256 sellerCount)
        external
        tracked
    {
        threshold = _value(threshold, 1_000, type(uint16).max);
        deltaWh = _value(deltaWh, exchange.maxPurchaseWh() + 1, type(uint40).max);
        maxPrice = _value(maxPrice, 3 * uint256(basePrice), type(uint96).max);
        uint256 count = sellerCount % (sellers.length + 1);
        address[] memory chosen = new address[](count);
        uint8[] memory channels = new uint8[](count);
        for (uint256 k; k < count; ++k) {
            (chosen[k], channels[k]) = (sellers[k], uint8(sellerCount >> (8 * k + 8)));
        }
        vm.prank(_pick(buyers, buyerSeed));
        exchange.setRule(uint16(threshold), uint40(deltaWh), uint96(maxPrice), chosen, channels);
    }

    function buyEnergy(uint256 buyerSeed, uint256 sellerSeed, uint256 wh) external tracked {
        wh = _value(wh, exchange.maxPurchaseWh() + 1, type(uint256).max);
        vm.prank(_pick(buyers, buyerSeed));
        exchange.buyEnergy(_pick(sellers, sellerSeed), wh);
    }

    function settleExpired(uint256 memberSeed, uint256 wait) external tracked {
        vm.warp(vm.getBlockTimestamp() + bound(wait, 0, 3 hours));
        exchange.settleExpired(exchange.meterOf(_pick(members, memberSeed)));
    }

    function deposit(uint256 memberSeed, uint256 amount) external tracked {
        address member = _pick(members, memberSeed);
        amount = bound(amount, 0, token.balanceOf(member));
        vm.prank(member);
        token.approve(address(exchange), amount);
        vm.prank(member);
        exchange.deposit(member, amount);
    }

    function withdraw(uint256 memberSeed, uint256 amount) external tracked {
        address member = _pick(members, memberSeed);
        amount = _value(amount, exchange.balanceOf(member), type(uint256).max);
        vm.prank(member);
        exchange.withdraw(member, amount);
    }

    function withdrawFees() external tracked {
        exchange.withdrawFees();
    }

    /// @notice The attacker member arms a call to make from inside its token hooks, then withdraws.
    function attackerWithdraws(uint256 choice, uint256 amount) external tracked {
        bytes[4] memory calls = [
            abi.encodeCall(exchange.withdraw, (address(attacker), 1)),
            abi.encodeCall(exchange.deposit, (address(attacker), 1)),
            abi.encodeCall(exchange.buyEnergy, (sellers[0], 10)),
            abi.encodeCall(exchange.settleExpired, (exchange.meterOf(address(attacker))))
        ];
        _armedGuarded = choice % 4 < 2; // withdraw and deposit are nonReentrant
        attacker.arm(calls[choice % 4]);
        attacker.act(abi.encodeCall(exchange.withdraw, (address(attacker), bound(amount, 1, 1 ether))));
    }

    // ------------------------------------------------------------ operator and admin

    function replaceMeter(uint256 memberSeed) external tracked {
        uint32 id = exchange.meterOf(_pick(members, memberSeed));
        vm.prank(admin);
        exchange.replaceMeter(id, exchange.meter(id).oracle);
    }

    function deactivateMeter(uint256 memberSeed) external tracked {
        if (memberSeed % 16 != 0) return; // rarely: a deactivated member stays so
        vm.prank(admin);
        exchange.deactivateMeter(exchange.meterOf(_pick(members, memberSeed >> 4)));
    }

    function pauseOrUnpause(uint256 seed) external tracked {
        vm.prank(admin);
        if (exchange.paused()) exchange.unpause();
        else if (seed % 4 == 0) exchange.pause();
    }

    function setTiming(uint256 ttl, uint256 skew, uint256 grace) external tracked {
        vm.prank(admin);
        exchange.setTiming(
            uint32(_value(ttl, 1 days + 1, type(uint32).max)),
            uint32(_value(skew, 1 days + 1, type(uint32).max)),
            uint32(_value(grace, 1 days + 1, type(uint32).max))
        );
    }

    function setFee(uint256 bps) external tracked {
        vm.prank(admin);
        exchange.setFee(uint16(_value(bps, 1_001, type(uint16).max)), address(0xFEE));
    }

    function setMaxPurchaseWh(uint256 wh) external tracked {
        vm.prank(admin);
        exchange.setMaxPurchaseWh(uint32(_value(wh, 10_000, type(uint32).max)));
    }

    // ------------------------------------------------------------ helpers

    /// @dev One well-formed reading for each active meter of `gateway`, continuing its chain state.
    function _batch(uint16 gateway, uint256 seed) private view returns (uint256[] memory batch) {
        batch = new uint256[](members.length);
        uint256 n;
        for (uint256 k; k < members.length; ++k) {
            uint32 id = exchange.meterOf(members[k]);
            IEnergyExchange.MeterInfo memory m = exchange.meter(id);
            if (m.kind == IEnergyExchange.MeterKind.None || exchange.gatewayIndexOf(m.oracle) != gateway) continue;
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint256 ts = vm.getBlockTimestamp() > m.timestamp ? vm.getBlockTimestamp() : m.timestamp;
            batch[n++] = _pack(id, m.seq + 1, ts, m.producedWh + r % 2_000, m.consumedWh + (r >> 16) % 500, (r >> 32) % 1_001);
        }
        assembly ("memory-safe") {
            mstore(batch, n)
        }
    }

    function _pack(uint256 id, uint256 seq, uint256 ts, uint256 produced, uint256 consumed, uint256 soc)
        private
        pure
        returns (uint256)
    {
        return id | seq << 32 | ts << 64 | produced << 104 | consumed << 152 | soc << 200;
    }

    /// @dev A parameter from a raw fuzzed word: an edge value one time in two (0, 1, `plausibleMax`
    /// and around it, the type's maximum), else a value in [0, plausibleMax]; the low bits choose.
    function _value(uint256 raw, uint256 plausibleMax, uint256 typeMax) private pure returns (uint256) {
        if (raw & 1 == 0) return bound(raw >> 1, 0, plausibleMax);
        uint256[6] memory edges = [0, 1, plausibleMax == 0 ? 0 : plausibleMax - 1, plausibleMax, plausibleMax + 1, typeMax];
        uint256 v = edges[(raw >> 1) % 6];
        return v > typeMax ? typeMax : v;
    }

    function _pick(address[] storage from, uint256 seed) private view returns (address) {
        return from[seed % from.length];
    }

    function _openIds() private view returns (uint256[] memory ids) {
        ids = new uint256[](members.length);
        for (uint256 k; k < members.length; ++k) {
            ids[k] = exchange.openPurchase(exchange.meterOf(members[k])).id;
        }
    }

    function _sellerState()
        private
        view
        returns (uint256[] memory available, IEnergyExchange.MeterInfo[] memory info)
    {
        available = new uint256[](sellers.length);
        info = new IEnergyExchange.MeterInfo[](sellers.length);
        for (uint256 s; s < sellers.length; ++s) {
            available[s] = exchange.availableWh(sellers[s]);
            info[s] = exchange.meter(exchange.meterOf(sellers[s]));
        }
    }
}
