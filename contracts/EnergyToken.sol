// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";

/// @title DAISEE energy token
/// @notice The community's unit of account for energy trades. Members sign EIP-2612 permits so the
/// exchange can pull payment for rule-triggered purchases without an approve transaction.
/// @dev Minting is held by the community treasury (MINTER_ROLE); there is no other privilege.
/// `multicall` (OpenZeppelin) batches the treasury's mints when a street joins.
contract EnergyToken is ERC20, ERC20Permit, AccessControl, Multicall {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    constructor(address admin) ERC20("DAISEE Energy", "DSE") ERC20Permit("DAISEE Energy") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @notice Issue `amount` new tokens to `to` (community treasury only).
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
