// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEnergyExchange} from "../../interfaces/IEnergyExchange.sol";
import {ITokenReceiver} from "./CallbackToken.sol";

/// @title Test member that re-enters the exchange
/// @notice For tests only: a member account (a contract) that, when tokens reach it, calls the
/// exchange again with the call it was armed with, and records whether that call succeeded.
contract ReentrantMember is ITokenReceiver {
    IEnergyExchange public immutable exchange;
    bytes public reentry;
    bool public reentered;
    bool public reentrySucceeded;

    constructor(IEnergyExchange exchange_) {
        exchange = exchange_;
    }

    function arm(bytes calldata call) external {
        reentry = call;
    }

    /// @notice Forwards any call to the exchange as this member (withdraw, settleExpired, ...).
    function act(bytes calldata call) external {
        (bool ok, bytes memory ret) = address(exchange).call(call);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    function onTokenTransfer(address, uint256) external {
        if (reentered || reentry.length == 0) return;
        reentered = true;
        (reentrySucceeded,) = address(exchange).call(reentry);
    }
}
