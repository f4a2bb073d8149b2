// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title R1, the fabric's token: a capped ERC-20 (OpenZeppelin). Only holders of MINTER_ROLE
/// (the PoA rewards contract) mint; anyone burns their own (the job escrow burns its 15 %).
contract R1Token is ERC20Capped, ERC20Burnable, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    constructor(uint256 cap_, address admin) ERC20("Ratio1", "R1") ERC20Capped(cap_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// Mints `amount` to `to` (MINTER_ROLE only; never past the cap).
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
