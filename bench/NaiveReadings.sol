// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Baseline for bench/gas.py: the old prototype's pattern (daisee.sol setProduction /
/// setConsumption), one transaction per reading, one full-width storage slot per value, no
/// identity checks. Only here to measure what batching and packing save; never deployed for real.
contract NaiveReadings {
    struct Energy {
        uint256 production;
        uint256 consumption;
        uint256 soc;
        uint256 timestamp;
    }

    mapping(address => Energy) public energies;

    event Reading(address indexed meter, uint256 production, uint256 consumption, uint256 soc, uint256 timestamp);

    function setReading(uint256 production, uint256 consumption, uint256 soc) external {
        Energy storage e = energies[msg.sender];
        e.production = production;
        e.consumption = consumption;
        e.soc = soc;
        e.timestamp = block.timestamp;
        emit Reading(msg.sender, production, consumption, soc, block.timestamp);
    }
}
