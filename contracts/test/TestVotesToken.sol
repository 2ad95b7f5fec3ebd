// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title Test only: a DAO's existing ERC20Votes token, with OpenZeppelin's default block-number clock
/// @notice Not part of the product. test/deploy/ deploys it as the token of a DAO that existed before
/// AI Commons, to show that an existing governor is indexed and enforced without our own contracts.
contract TestVotesToken is ERC20, ERC20Permit, ERC20Votes {
    /// @param holders Addresses that receive `amount` each.
    /// @param amount Tokens per holder, in wei.
    constructor(address[] memory holders, uint256 amount) ERC20("Test DAO", "TDAO") ERC20Permit("Test DAO") {
        for (uint256 i = 0; i < holders.length; ++i) {
            _mint(holders[i], amount);
        }
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
