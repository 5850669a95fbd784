// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The cheatcodes these tests use, at forge's fixed HEVM address: a subset of forge-std's
/// Vm (npm has no forge-std that compiles, see foundry.toml). To use another cheatcode, copy its
/// declaration here with forge's exact signature.
interface Vm {
    function prank(address msgSender) external;
    function warp(uint256 newTimestamp) external;
    /// @dev Under via-IR `block.timestamp` can be read once and reused after a warp; this cannot.
    function getBlockTimestamp() external view returns (uint256);
    function label(address account, string calldata newLabel) external;
    function assertEq(uint256 left, uint256 right, string calldata message) external pure;
    function assertTrue(bool condition, string calldata message) external pure;
}

/// @notice Stand-in for forge-std's Test for handlers and tests: cheatcodes and `bound`.
/// A failed `vm.assert*` reverts, which is how forge sees a failing test or invariant.
abstract contract TestBase {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    /// @dev Maps a fuzzed `x` into [min, max]; values already inside are kept, so the fuzzer's
    /// edge values (0, 1, max) stay reachable.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        return min + x % (max - min + 1); // no overflow: the full range returned above
    }
}

/// @notice Stand-in for forge-std's StdInvariant: forge calls `targetContracts()` on the test
/// contract to learn which contracts the invariant fuzzer may call (here: the handler only).
abstract contract InvariantTest is TestBase {
    address[] private _targets;

    function targetContract(address target) internal {
        _targets.push(target);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targets;
    }
}
