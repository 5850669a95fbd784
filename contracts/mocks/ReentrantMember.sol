// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEnergyExchange} from "../../interfaces/IEnergyExchange.sol";
import {ITokenHooks} from "./CallbackToken.sol";

/// @title Test member that re-enters the exchange
/// @notice For tests only: a member account (a contract) that, when CallbackToken moves its tokens,
/// calls the exchange again with the call it was armed with, and records whether that succeeded.
contract ReentrantMember is ITokenHooks {
    IEnergyExchange public immutable exchange;
    bytes public reentry;
    bool public reentered;
    bool public reentrySucceeded;

    constructor(IEnergyExchange exchange_) {
        exchange = exchange_;
    }

    function arm(bytes calldata call) external {
        reentry = call;
        (reentered, reentrySucceeded) = (false, false);
    }

    /// @notice Forwards any call to the exchange as this member (withdraw, setRule, buyEnergy, ...).
    function act(bytes calldata call) external {
        (bool ok, bytes memory ret) = address(exchange).call(call);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    function tokensToSend(address, address, uint256) external {
        _reenter();
    }

    function onTokenTransfer(address, uint256, bytes calldata) external {
        _reenter();
    }

    function _reenter() private {
        if (reentered || reentry.length == 0) return;
        reentered = true;
        (bool ok,) = address(exchange).call(reentry);
        if (ok) reentrySucceeded = true;
    }
}
