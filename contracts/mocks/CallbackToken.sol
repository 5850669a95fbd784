// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Receives a callback from CallbackToken on every transfer to it.
interface ITokenReceiver {
    function onTokenTransfer(address from, uint256 amount) external;
}

/// @title Test token that calls back (ERC-677/ERC-777 style)
/// @notice For tests only: an ERC20 that calls `onTokenTransfer` on every contract it sends
/// tokens to, as hook tokens on some target chains do. Lets tests attempt re-entrancy. A recipient
/// without the hook (the exchange itself) is called all the same; its failure is ignored.
contract CallbackToken is ERC20 {
    constructor() ERC20("Callback", "CB") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (to.code.length != 0 && from != address(0)) {
            (bool ok,) = to.call(abi.encodeCall(ITokenReceiver.onTokenTransfer, (from, value)));
            ok; // the hook's outcome is the recipient's business
        }
    }
}
