// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title DAISEE community timelock
/// @notice OpenZeppelin's TimelockController under its own name, so that the project builds and
/// deploys it (ape compiles the contracts in contracts/). The governor proposes and cancels,
/// anyone executes once the delay has passed; it holds the admin role of the exchange, the
/// membership and the rules after the hand-over (scripts/deploy.py, `daisee-governance handover`).
contract CommunityTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
