// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnergyExchange} from "../../contracts/EnergyExchange.sol";
import {EnergyToken} from "../../contracts/EnergyToken.sol";
import {IEnergyExchange} from "../../interfaces/IEnergyExchange.sol";
import {InvariantTest} from "./Base.sol";

/// @notice The community every forge test starts from: token, exchange, one oracle (a gateway for
/// every meter), sellers with an offer and buyers whose rule lists every seller. The exchange's
/// deployment and registration API is used here only: when it changes, adapt this contract.
abstract contract CommunitySetup is InvariantTest {
    uint96 internal constant PRICE_PER_WH = 1e14; // as tests/support/scenario.py
    uint16 internal constant FEE_BPS = 100;
    uint16 internal constant THRESHOLD_PERMILLE = 300;
    uint40 internal constant DELTA_WH = 250;
    uint256 internal constant FUNDS = 1_000_000 ether; // per buyer: never the limit unless a test wants it

    address internal constant ORACLE = address(0x0AC1E);
    address internal constant FEE_RECIPIENT = address(0xFEE);

    EnergyToken internal token;
    EnergyExchange internal exchange;
    address[] internal sellers; // Prosumer meters with an offer at PRICE_PER_WH, no reserve
    address[] internal buyers; // Consumer meters, funded, exchange approved, rule over every seller
    address[] internal members; // sellers then buyers

    function _deployCommunity(uint256 sellerCount, uint256 buyerCount) internal {
        token = new EnergyToken(address(this));
        exchange = new EnergyExchange(address(token), address(this), FEE_RECIPIENT, FEE_BPS);
        exchange.grantRole(exchange.OPERATOR_ROLE(), address(this));
        vm.label(address(token), "token");
        vm.label(address(exchange), "exchange");
        vm.label(ORACLE, "oracle");

        uint8[] memory channels = new uint8[](sellerCount);
        for (uint256 i; i < sellerCount; ++i) {
            address seller = _member(0x5E11E0 + i, IEnergyExchange.MeterKind.Prosumer, "seller");
            vm.prank(seller);
            exchange.setOffer(PRICE_PER_WH, 0);
            sellers.push(seller);
            channels[i] = uint8(i + 1);
        }
        for (uint256 i; i < buyerCount; ++i) {
            address buyer = _member(0xB0B000 + i, IEnergyExchange.MeterKind.Consumer, "buyer");
            token.mint(buyer, FUNDS);
            vm.prank(buyer);
            token.approve(address(exchange), type(uint256).max);
            vm.prank(buyer);
            exchange.setRule(THRESHOLD_PERMILLE, DELTA_WH, 2 * PRICE_PER_WH, sellers, channels);
            buyers.push(buyer);
        }
    }

    function _member(uint256 key, IEnergyExchange.MeterKind kind, string memory role) private returns (address who) {
        who = address(uint160(key));
        exchange.registerMeter(who, kind, ORACLE);
        members.push(who);
        vm.label(who, role);
    }
}
