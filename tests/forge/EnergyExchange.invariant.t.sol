// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEnergyExchange} from "../../interfaces/IEnergyExchange.sol";
import {CommunitySetup} from "./CommunitySetup.sol";
import {ExchangeHandler} from "./ExchangeHandler.sol";

/// @notice Escrow and reservation invariants of the exchange under random readings, purchases,
/// settlements and offer changes (ExchangeHandler). `make test` runs them bounded, `make fuzz`
/// deep (foundry.toml profiles); tests/contracts/test_invariants.py checks the same escrow rule on
/// a real anvil, these search far more sequences.
contract EnergyExchangeInvariantTest is CommunitySetup {
    ExchangeHandler internal handler;

    function setUp() public {
        _deployCommunity({sellerCount: 2, buyerCount: 3});
        handler = new ExchangeHandler(exchange, ORACLE, PRICE_PER_WH, sellers, buyers, members);
        targetContract(address(handler));
    }

    /// @notice The exchange holds exactly the escrow of the open purchases: nothing stuck, nothing owed.
    function invariant_escrowEqualsOpenPurchases() external view {
        uint256 escrow;
        for (uint256 k; k < members.length; ++k) {
            escrow += _open(members[k]).amount;
        }
        vm.assertEq(token.balanceOf(address(exchange)), escrow, "exchange balance != open purchases' amounts");
    }

    /// @notice A seller's committed energy is what it delivered plus what its open purchases reserve
    /// (an expired purchase gives its undelivered Wh back for sale).
    function invariant_commitmentsEqualDeliveredPlusOpen() external view {
        for (uint256 s; s < sellers.length; ++s) {
            uint256 committed = handler.ghostDeliveredWh(sellers[s]);
            for (uint256 k; k < members.length; ++k) {
                IEnergyExchange.Purchase memory p = _open(members[k]);
                if (p.id != 0 && p.seller == sellers[s]) committed += p.wh;
            }
            vm.assertEq(exchange.meter(exchange.meterOf(sellers[s])).committedWh, committed, "committedWh");
        }
    }

    /// @notice Every purchase id handed out is still open or was seen settling.
    function invariant_purchasesAccountedFor() external view {
        uint256 open;
        for (uint256 k; k < members.length; ++k) {
            if (_open(members[k]).id != 0) ++open;
        }
        vm.assertEq(handler.ghostOpened() - handler.ghostSettled(), open, "purchase ids lost");
    }

    /// @notice The handler is not vacuous: its actions open purchases by rule and by hand, deliver
    /// and expire them (with fail_on_revert = false a handler that always reverts would pass).
    function test_handlerActionsOpenAndSettlePurchases() external {
        handler.submitReading({memberSeed: 0, addProduced: 1_000, addConsumed: 0, soc: 900, wait: 0}); // seller 0
        handler.submitReading({memberSeed: 2, addProduced: 0, addConsumed: 0, soc: 100, wait: 60}); // buyer 0: rule
        handler.buyEnergy({buyerSeed: 1, sellerSeed: 0, wh: 300}); // buyer 1: by hand
        vm.assertEq(handler.ghostOpened(), 2, "opened");
        handler.submitReading({memberSeed: 2, addProduced: 0, addConsumed: 500, soc: 900, wait: 60}); // delivered
        handler.settleExpired({buyerSeed: 1, wait: 2 hours}); // expired
        vm.assertEq(handler.ghostSettled(), 2, "settled");
        vm.assertEq(token.balanceOf(address(exchange)), 0, "escrow left");
    }

    function _open(address member) private view returns (IEnergyExchange.Purchase memory) {
        return exchange.openPurchase(exchange.meterOf(member));
    }
}
