// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title AI Commons usage anchor
/// @notice The Merkle root of every anchoring period's usage receipts (one receipt per gateway call,
/// admitted or refused), so that anyone can check a receipt against the chain without trusting the
/// service. Owned by the timelock: only governance appoints or replaces the anchorer, the one account
/// that may anchor.
/// @dev A period is anchored once and never changed: a root is final. The leaves are
/// StandardMerkleTree leaves (OpenZeppelin merkle-tree) of the receipt's documented ABI encoding
/// (docs/interfaces.md), which MerkleProof.verify checks.
contract UsageAnchor is Ownable {
    /// @notice What was anchored for one period.
    struct Anchor {
        bytes32 root;
        uint64 count;
        uint64 anchoredAt;
        uint128 totalTokens;
        string uri;
    }

    /// @notice The one account that may anchor (address(0): none until governance appoints one).
    address public anchorer;

    mapping(uint64 period => Anchor) private _anchors;

    /// @notice Only the anchorer may anchor.
    error UsageAnchorUnauthorized(address caller, address anchorer);
    /// @notice The period was anchored already; its root is final.
    error UsageAnchorAlreadyAnchored(uint64 period, bytes32 root);
    /// @notice A root with receipts must be non-zero, and a zero root means no receipt.
    error UsageAnchorInvalidRoot(uint64 period, bytes32 root, uint64 count);
    /// @notice The anchor cannot be left without an owner: no anchorer could ever be replaced.
    error UsageAnchorOwnershipNotRenounceable();

    /// @notice Governance replaced the anchorer.
    event AnchorerChanged(address previousAnchorer, address newAnchorer);
    /// @notice A period's receipts were anchored.
    event PeriodAnchored(
        uint64 indexed period,
        bytes32 root,
        uint64 count,
        uint128 totalTokens,
        string uri,
        address anchorer
    );

    /// @param owner_ The timelock, which alone appoints the anchorer.
    /// @param anchorer_ The first anchorer (address(0): none yet).
    constructor(address owner_, address anchorer_) Ownable(owner_) {
        anchorer = anchorer_;
        emit AnchorerChanged(address(0), anchorer_);
    }

    /// @notice Records a period's receipts: their Merkle root, how many, the tokens they charged, and where
    /// they can be fetched.
    /// @param period The period's number (its start divided by the period's length, in the service's terms).
    /// @param root The Merkle root of the period's receipt leaves; zero exactly when `count` is zero.
    /// @param count The number of receipts.
    /// @param totalTokens The tokens the receipts charged in total.
    /// @param uri Where the period's receipts can be downloaded.
    function anchor(uint64 period, bytes32 root, uint64 count, uint128 totalTokens, string calldata uri) external {
        if (msg.sender != anchorer) revert UsageAnchorUnauthorized(msg.sender, anchorer);
        Anchor storage existing = _anchors[period];
        if (existing.anchoredAt != 0) revert UsageAnchorAlreadyAnchored(period, existing.root);
        if ((root == bytes32(0)) != (count == 0)) revert UsageAnchorInvalidRoot(period, root, count);
        _anchors[period] = Anchor({
            root: root,
            count: count,
            anchoredAt: uint64(block.timestamp),
            totalTokens: totalTokens,
            uri: uri
        });
        emit PeriodAnchored(period, root, count, totalTokens, uri, msg.sender);
    }

    /// @notice Appoints a new anchorer (address(0) stops anchoring). Only governance (the owner).
    /// @param newAnchorer The account that may anchor from now on.
    function setAnchorer(address newAnchorer) external onlyOwner {
        address previous = anchorer;
        anchorer = newAnchorer;
        emit AnchorerChanged(previous, newAnchorer);
    }

    /// @notice What was anchored for `period` (anchoredAt 0: nothing yet).
    /// @param period The period's number.
    /// @return The period's anchor.
    function anchorOf(uint64 period) external view returns (Anchor memory) {
        return _anchors[period];
    }

    /// @notice Whether `leaf` is one of the receipts anchored for `period`, by OpenZeppelin's
    /// MerkleProof.verify against the anchored root.
    /// @param period The period's number.
    /// @param leaf The receipt's leaf: keccak256(bytes.concat(keccak256(abi.encode(receipt values)))).
    /// @param proof The sibling hashes from the leaf up.
    /// @return True when the period is anchored and the proof leads to its root.
    function verifyReceipt(uint64 period, bytes32 leaf, bytes32[] calldata proof) external view returns (bool) {
        Anchor storage anchored = _anchors[period];
        return anchored.count != 0 && MerkleProof.verify(proof, anchored.root, leaf);
    }

    /// @notice Ownership moves only to another governance (transferOwnership); it is never renounced.
    function renounceOwnership() public pure override {
        revert UsageAnchorOwnershipNotRenounceable();
    }
}
