// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {NodeLicence} from "./NodeLicence.sol";
import {OracleQuorum} from "./OracleQuorum.sol";
import {R1Token} from "./R1Token.sol";

/// @title Proof-of-Availability rewards paid from OracleSync certificates.
/// @notice Each epoch, the oracles sign once (EIP-712, bound to this chain and this contract)
/// the Merkle root of `(node, epoch, cumulative)` leaves, `cumulative` being the node's
/// availability (0-255 per epoch) summed over every certified epoch so far. One submission
/// per epoch stores the root; a licence owner then claims with one leaf and its proof for
/// any later certified epoch: the reward is `maxReleasePerEpoch * (cumulative - claimed) /
/// 255`, capped per licence, so a claim covering 30 epochs costs what a claim of one does.
contract PoARewards is EIP712, OracleQuorum {
    bytes32 private constant EPOCH_TYPEHASH = keccak256("EpochRoot(uint64 epoch,bytes32 root)");

    R1Token public immutable token;
    NodeLicence public immutable licences;
    uint256 public immutable maxReleasePerEpoch;
    uint256 public immutable licenceCap;

    /// epoch => certified root (0: none).
    mapping(uint64 => bytes32) public rootOf;
    /// node => cumulative availability already paid for.
    mapping(address => uint256) public claimedCumulative;
    /// licence => paid so far.
    mapping(uint256 => uint256) public paid;

    event EpochCertified(uint64 indexed epoch, bytes32 root);
    event Claimed(uint256 indexed licence, address indexed node, uint64 epoch, uint256 amount);

    error RootConflict();
    error NotCertified();
    error NotLicenceOwner();
    error NoNode();
    error BadProof();
    error NothingToClaim();

    constructor(
        R1Token token_,
        NodeLicence licences_,
        address[] memory oracles,
        uint256 threshold_,
        uint256 maxReleasePerEpoch_,
        uint256 licenceCap_
    ) EIP712("R1 PoA", "1") OracleQuorum(oracles, threshold_) {
        token = token_;
        licences = licences_;
        maxReleasePerEpoch = maxReleasePerEpoch_;
        licenceCap = licenceCap_;
    }

    /// The digest oracles sign for `epoch`'s `root`.
    function epochDigest(uint64 epoch, bytes32 root) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(EPOCH_TYPEHASH, epoch, root)));
    }

    /// Stores `epoch`'s root once `threshold` distinct oracles signed it; signatures must come
    /// in ascending signer order (so duplicates cannot count twice). Anyone may submit.
    function submitEpoch(uint64 epoch, bytes32 root, bytes[] calldata signatures) external {
        bytes32 held = rootOf[epoch];
        if (held == root) return;
        if (held != bytes32(0)) revert RootConflict();
        _requireQuorum(epochDigest(epoch, root), signatures);
        rootOf[epoch] = root;
        emit EpochCertified(epoch, root);
    }

    /// The leaf of `node`'s cumulative availability at `epoch` (OpenZeppelin's standard leaf).
    function leaf(address node, uint64 epoch, uint256 cumulative) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(node, epoch, cumulative))));
    }

    /// Pays `licence`'s owner for its node's availability up to certified `epoch`.
    function claim(uint256 licence, uint64 epoch, uint256 cumulative, bytes32[] calldata proof) external {
        if (licences.ownerOf(licence) != msg.sender) revert NotLicenceOwner();
        address node = licences.nodeOf(licence);
        if (node == address(0)) revert NoNode();
        bytes32 root = rootOf[epoch];
        if (root == bytes32(0)) revert NotCertified();
        if (!MerkleProof.verifyCalldata(proof, root, leaf(node, epoch, cumulative))) revert BadProof();
        uint256 before = claimedCumulative[node];
        // Cumulative figures only grow: a repeated or older claim has nothing left.
        if (cumulative <= before) revert NothingToClaim();
        uint256 amount = maxReleasePerEpoch * (cumulative - before) / 255;
        uint256 room = licenceCap - paid[licence];
        if (amount > room) amount = room;
        if (amount == 0) revert NothingToClaim();
        claimedCumulative[node] = cumulative;
        paid[licence] += amount;
        token.mint(msg.sender, amount);
        emit Claimed(licence, node, epoch, amount);
    }
}
