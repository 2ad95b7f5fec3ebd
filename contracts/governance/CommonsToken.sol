// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Votes} from "@openzeppelin/contracts/governance/utils/Votes.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

/// @title AI Commons governance token
/// @notice ERC-20 with delegated, checkpointed voting power and gasless approvals. The whole supply is
/// minted once at deployment to the initial holders; there is no owner and no further minting.
/// @dev Uses the timestamp clock (ERC-6372) so that proposal deadlines, allocation epochs and the
/// gateway all speak the same unit: seconds. Block numbers drift between chains; time does not.
contract CommonsToken is ERC20, ERC20Permit, ERC20Votes {
    /// @notice The holders and amounts lists have different lengths.
    error CommonsTokenLengthMismatch(uint256 holders, uint256 amounts);

    /// @notice Mints the initial supply to `holders`.
    /// @param holders Addresses that receive the initial supply.
    /// @param amounts Amount for each holder, in wei (18 decimals).
    constructor(
        address[] memory holders,
        uint256[] memory amounts
    ) ERC20("AI Commons", "COMMONS") ERC20Permit("AI Commons") {
        if (holders.length != amounts.length) revert CommonsTokenLengthMismatch(holders.length, amounts.length);
        for (uint256 i = 0; i < holders.length; ++i) {
            _mint(holders[i], amounts[i]);
        }
    }

    /// @inheritdoc Votes
    function clock() public view override returns (uint48) {
        return Time.timestamp();
    }

    /// @inheritdoc Votes
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
