// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEnergyExchange} from "../../interfaces/IEnergyExchange.sol";
import {CommunitySetup} from "./CommunitySetup.sol";
import {ExchangeHandler} from "./ExchangeHandler.sol";

/// @notice The exchange's money and metering invariants under everything ExchangeHandler does
/// (honest gateway batches, every member, operator and admin action with raw parameters, a
/// re-entering member, a token that calls back). `make test` runs them bounded, `make fuzz` deep
/// (foundry.toml profiles); tests/contracts/test_invariants.py checks the same rules on anvil.
contract EnergyExchangeInvariantTest is CommunitySetup {
    ExchangeHandler internal handler;

    function setUp() public {
        _deployCommunity({sellerCount: 2, buyerCount: 3});
        address[] memory gatewayList = new address[](STREETS);
        for (uint256 g; g < STREETS; ++g) {
            gatewayList[g] = gateways[g];
        }
        handler = new ExchangeHandler(
            exchange, token, attacker, address(this), PRICE_PER_WH, gatewayList, sellers, buyers, members
        );
        targetContract(address(handler));
    }

    /// @notice No member's settings, purchase or balance ever make a gateway's well-formed batch revert.
    function invariant_honestGatewayBatchNeverReverts() external view {
        vm.assertTrue(!handler.ghostHonestBatchReverted(), string(handler.ghostHonestBatchRevert()));
    }

    /// @notice The exchange holds exactly what it owes: the open purchases' escrow, the members'
    /// balances and the accrued fees. Nothing is paid twice, nothing is stuck.
    function invariant_exchangeHoldsExactlyWhatItOwes() external view {
        uint256 owed = exchange.feesAccrued();
        for (uint256 k; k < members.length; ++k) {
            owed += _open(members[k]).amount + exchange.balanceOf(members[k]);
        }
        vm.assertEq(token.balanceOf(address(exchange)), owed, "exchange token balance != what it owes");
    }

    /// @notice Tokens only move between the community's accounts: none created, none lost.
    function invariant_supplyConserved() external view {
        uint256 held = token.balanceOf(address(exchange)) + token.balanceOf(FEE_RECIPIENT)
            + token.balanceOf(address(this)) + token.balanceOf(address(handler));
        for (uint256 k; k < members.length; ++k) {
            held += token.balanceOf(members[k]);
        }
        vm.assertEq(token.totalSupply(), held, "supply");
    }

    /// @notice No purchase commits more of a seller's energy than it had available.
    function invariant_noSellerOversold() external view {
        vm.assertTrue(!handler.ghostOversold(), "a seller was oversold");
    }

    /// @notice Every purchase id handed out is still open or was seen closing, once.
    function invariant_purchasesAccountedFor() external view {
        uint256 open;
        for (uint256 k; k < members.length; ++k) {
            if (_open(members[k]).id != 0) ++open;
        }
        vm.assertEq(handler.ghostOpened() - handler.ghostSettled(), open, "purchase ids lost");
    }

    /// @notice The re-entrancy guard holds against a member re-entering from its token hooks.
    function invariant_noReentryIntoGuardedFunctions() external view {
        vm.assertTrue(!handler.ghostGuardBypassed(), "re-entered a guarded function");
    }

    /// @notice The handler is not vacuous: its actions open purchases by rule and by hand, deliver
    /// and expire them (with fail_on_revert = false a handler that always reverts would pass).
    function test_handlerActionsOpenAndSettlePurchases() external {
        for (uint256 i; i < 6; ++i) {
            handler.gatewayReports({gatewaySeed: i, seed: i, wait: 10 minutes});
        }
        for (uint256 k; k < members.length; ++k) {
            try handler.settleExpired({memberSeed: k, wait: 3 hours}) {} catch {} // those with a purchase open
        }
        vm.assertTrue(handler.ghostOpened() > 0, "opened");
        vm.assertTrue(handler.ghostSettled() > 0, "settled");
        vm.assertTrue(!handler.ghostHonestBatchReverted(), string(handler.ghostHonestBatchRevert()));
    }

    function _open(address member) private view returns (IEnergyExchange.Purchase memory) {
        return exchange.openPurchase(exchange.meterOf(member));
    }
}
