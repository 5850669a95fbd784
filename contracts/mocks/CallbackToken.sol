// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice The hooks CallbackToken calls on contracts (simplified ERC-777 / ERC-677 signatures).
interface ITokenHooks {
    /// @notice Called on a contract sender before the balances move (ERC-777 `tokensToSend`):
    /// the classic re-entry point, the caller of `transferFrom` has not seen the transfer yet.
    function tokensToSend(address from, address to, uint256 amount) external;
    /// @notice Called on a contract recipient after the balances moved (ERC-677 `onTokenTransfer`).
    function onTokenTransfer(address from, uint256 amount, bytes calldata data) external;
}

/// @title Callback token mock, for re-entrancy invariants
/// @notice An ERC20 (OpenZeppelin) with open minting whose every transfer, transferFrom and mint
/// calls into contracts: `tokensToSend` on the sender, then `onTokenTransfer` on the recipient.
/// Deploy the exchange with it instead of EnergyToken and let a handler's actors be attacker
/// contracts whose hooks call back into the exchange (buy, submit readings, settle).
/// @dev EOAs are not called. A hook that fails is ignored, unless `bubbleRevert` is set and it
/// reverted with data: then the transfer reverts with it, as in ERC-777, and a recipient can refuse
/// a payment (e.g. block the settlement of a purchase it sold). A contract without the hook (the
/// exchange itself) reverts with no data and is always ignored.
contract CallbackToken is ERC20 {
    bool public immutable bubbleRevert;

    constructor(bool bubbleRevert_) ERC20("Callback Token", "CBT") {
        bubbleRevert = bubbleRevert_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 amount) internal override {
        if (from.code.length != 0) _hook(from, abi.encodeCall(ITokenHooks.tokensToSend, (from, to, amount)));
        super._update(from, to, amount);
        if (to.code.length != 0) _hook(to, abi.encodeCall(ITokenHooks.onTokenTransfer, (from, amount, "")));
    }

    function _hook(address target, bytes memory call) private {
        (bool ok, bytes memory reason) = target.call(call);
        if (!ok && bubbleRevert && reason.length != 0) {
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
    }
}
