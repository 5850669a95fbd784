// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "./Base.sol";
import {CallbackToken, ITokenHooks} from "../../contracts/mocks/CallbackToken.sol";

/// @notice Records the hooks it gets; refuses incoming tokens when told to.
contract HookRecorder is ITokenHooks {
    error Refused();

    uint256 public sends;
    uint256 public receipts;
    bool public refuse;

    function setRefuse(bool refuse_) external {
        refuse = refuse_;
    }

    function tokensToSend(address, address, uint256) external {
        ++sends;
    }

    function onTokenTransfer(address, uint256, bytes calldata) external {
        if (refuse) revert Refused();
        ++receipts;
    }

    function send(CallbackToken token, address to, uint256 amount) external {
        token.transfer(to, amount);
    }
}

/// @notice The mock calls its hooks, so re-entrancy invariants built on it test something.
contract CallbackTokenTest is TestBase {
    function test_hooksAreCalledOnSenderAndRecipient() external {
        CallbackToken token = new CallbackToken(false);
        HookRecorder a = new HookRecorder();
        HookRecorder b = new HookRecorder();
        token.mint(address(a), 10);
        a.send(token, address(b), 4);
        vm.assertEq(a.receipts(), 1, "mint calls the recipient");
        vm.assertEq(a.sends(), 1, "transfer calls the sender");
        vm.assertEq(b.receipts(), 1, "transfer calls the recipient");
        b.setRefuse(true);
        a.send(token, address(b), 1); // a failing hook is ignored without bubbleRevert
        vm.assertEq(token.balanceOf(address(b)), 5, "balance");
    }

    function test_bubbleRevertLetsARecipientRefuse() external {
        CallbackToken token = new CallbackToken(true);
        HookRecorder b = new HookRecorder();
        b.setRefuse(true);
        try token.mint(address(b), 1) {
            vm.assertTrue(false, "refused mint went through");
        } catch (bytes memory reason) {
            vm.assertEq(uint32(bytes4(reason)), uint32(HookRecorder.Refused.selector), "revert reason");
        }
        token.mint(address(this), 1); // no hook here (no such function): ignored
    }
}
