// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Votes} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Votes.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Votes} from "@openzeppelin/contracts/governance/utils/Votes.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

/// @title Test only: a DAO's existing ERC721Votes membership NFT, with a timestamp clock
/// @notice Not part of the product. test/deploy/ deploys it as the token of a DAO that existed before
/// AI Commons, to show that an NFT-voting governor on a timestamp clock is indexed and enforced too.
contract TestVotesNft is ERC721, EIP712, ERC721Votes {
    /// @param holders Addresses that receive `perHolder` NFTs each (ids 1, 2, ... in order).
    /// @param perHolder NFTs per holder.
    constructor(
        address[] memory holders,
        uint256 perHolder
    ) ERC721("Test DAO NFT", "TNFT") EIP712("Test DAO NFT", "1") {
        uint256 next = 1;
        for (uint256 i = 0; i < holders.length; ++i) {
            for (uint256 j = 0; j < perHolder; ++j) {
                _mint(holders[i], next++);
            }
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

    function _update(
        address to,
        uint256 tokenId,
        address auth
    ) internal override(ERC721, ERC721Votes) returns (address) {
        return super._update(to, tokenId, auth);
    }

    function _increaseBalance(address account, uint128 amount) internal override(ERC721, ERC721Votes) {
        super._increaseBalance(account, amount);
    }
}
