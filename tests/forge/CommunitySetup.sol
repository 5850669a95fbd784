// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnergyExchange} from "../../contracts/EnergyExchange.sol";
import {CallbackToken} from "../../contracts/mocks/CallbackToken.sol";
import {ReentrantMember} from "../../contracts/mocks/ReentrantMember.sol";
import {IEnergyExchange} from "../../interfaces/IEnergyExchange.sol";
import {InvariantTest} from "./Base.sol";

/// @notice The community every forge test starts from. Its token calls back into contracts on
/// every transfer (CallbackToken, reverts bubbling), as hook tokens on some target chains do; two
/// gateways each read a street of sellers and buyers; one buyer is a contract that re-enters the
/// exchange from its token hooks. The test contract is admin and operator.
abstract contract CommunitySetup is InvariantTest {
    uint96 internal constant PRICE_PER_WH = 1e14; // as tests/support/scenario.py
    uint16 internal constant FEE_BPS = 100;
    uint16 internal constant THRESHOLD_PERMILLE = 300;
    uint40 internal constant DELTA_WH = 250;
    uint256 internal constant FUNDS = 1_000_000 ether; // per buyer, half of it deposited
    uint256 internal constant STREETS = 2;

    address internal constant FEE_RECIPIENT = address(0xFEE);

    CallbackToken internal token;
    EnergyExchange internal exchange;
    address[STREETS] internal gateways;
    address[] internal sellers; // Prosumer meters with an offer at PRICE_PER_WH, no reserve
    address[] internal buyers; // Consumer meters with a deposit and a rule over every seller
    address[] internal members; // sellers then buyers
    ReentrantMember internal attacker; // the last buyer

    function _deployCommunity(uint256 sellerCount, uint256 buyerCount) internal {
        token = new CallbackToken(true);
        exchange = new EnergyExchange(address(token), address(this), 0, FEE_RECIPIENT, FEE_BPS);
        exchange.grantRole(exchange.OPERATOR_ROLE(), address(this));
        attacker = new ReentrantMember(exchange);
        for (uint256 g; g < STREETS; ++g) {
            gateways[g] = address(uint160(0x6A7E00 + g));
            vm.label(gateways[g], "gateway");
        }
        vm.label(address(token), "token");
        vm.label(address(exchange), "exchange");
        vm.label(address(attacker), "attacker");

        uint8[] memory channels = new uint8[](sellerCount);
        for (uint256 i; i < sellerCount; ++i) {
            address seller = _member(address(uint160(0x5E11E0 + i)), IEnergyExchange.MeterKind.Prosumer, "seller");
            vm.prank(seller);
            exchange.setOffer(PRICE_PER_WH, 0);
            sellers.push(seller);
            channels[i] = uint8(i + 1);
        }
        for (uint256 i; i < buyerCount; ++i) {
            address buyer = i + 1 == buyerCount ? address(attacker) : address(uint160(0xB0B000 + i));
            _member(buyer, IEnergyExchange.MeterKind.Consumer, "buyer");
            token.mint(address(this), FUNDS);
            token.approve(address(exchange), FUNDS / 2);
            exchange.deposit(buyer, FUNDS / 2);
            token.transfer(buyer, FUNDS / 2);
            vm.prank(buyer);
            exchange.setRule(THRESHOLD_PERMILLE, DELTA_WH, 2 * PRICE_PER_WH, sellers, channels);
            buyers.push(buyer);
        }
    }

    function _member(address who, IEnergyExchange.MeterKind kind, string memory role) private returns (address) {
        exchange.registerMeter(who, kind, gateways[members.length % STREETS]);
        members.push(who);
        vm.label(who, role);
        return who;
    }
}
