// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title Node licences (dAuth): an ERC-721 (OpenZeppelin) whose token links one node.
/// @notice A node is named on chain by its EVM address (its own key, kept beside its ed25519
/// node key); the node binds the two itself by signing its heartbeats, which carry the
/// address, with its node key. A link needs both consents: the licence owner sends the
/// transaction, the node signs `Link(licence, node, nodeKey, deadline)` (EIP-712, this chain and
/// this contract) with its EVM key. The link also names the node's ed25519 key (what the mesh
/// admits by) with that key's signature of `"r1-node-link-v1\0" | u64 chainid | contract |
/// u256 licence | node`: the EVM cannot check ed25519 cheaply, so the signature is recorded in
/// the `NodeLinked` event unchecked and every reader (admission, oracles) checks it off chain,
/// ignoring a link whose signature fails — a link naming someone else's key admits nobody.
/// A node is active while it is linked to an existing licence.
contract NodeLicence is ERC721, Ownable, EIP712 {
    bytes32 private constant LINK_TYPEHASH = keccak256("Link(uint256 licence,address node,bytes32 nodeKey,uint256 deadline)");

    uint256 public nextId = 1;
    /// licence => linked node (0: none).
    mapping(uint256 => address) public nodeOf;
    /// node => licence (0: none).
    mapping(address => uint256) public licenceOf;
    /// licence => the ed25519 key its link names (check the link's signature off chain).
    mapping(uint256 => bytes32) public nodeKeyOf;

    event NodeLinked(uint256 indexed licence, address indexed node, bytes32 nodeKey, bytes nodeKeySignature);
    event NodeUnlinked(uint256 indexed licence, address indexed node);

    error NotLicenceOwner();
    error Expired();
    error AlreadyLinked();
    error BadNodeSignature();
    error NotLinked();

    constructor(address admin) ERC721("R1 Node Licence", "R1L") Ownable(admin) EIP712("R1 NodeLicence", "1") {}

    /// Mints a licence to `to` (the issuer only); returns its id.
    function mint(address to) external onlyOwner returns (uint256 id) {
        id = nextId++;
        _safeMint(to, id);
    }

    /// The digest a node signs to consent to `licence`.
    function linkDigest(uint256 licence, address node, bytes32 nodeKey, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(LINK_TYPEHASH, licence, node, nodeKey, deadline)));
    }

    /// Links `node` (ed25519 key `nodeKey`) to `licence` (its owner only), with the node's
    /// consent `nodeSignature` (its EVM key) and `nodeKeySignature` (its ed25519 key, 64 bytes,
    /// checked off chain).
    function linkNode(
        uint256 licence,
        address node,
        bytes32 nodeKey,
        bytes calldata nodeKeySignature,
        uint256 deadline,
        bytes calldata nodeSignature
    ) external {
        if (ownerOf(licence) != msg.sender) revert NotLicenceOwner();
        if (block.timestamp > deadline) revert Expired();
        if (node == address(0) || nodeOf[licence] != address(0) || licenceOf[node] != 0) revert AlreadyLinked();
        if (nodeKeySignature.length != 64) revert BadNodeSignature();
        if (ECDSA.recover(linkDigest(licence, node, nodeKey, deadline), nodeSignature) != node) {
            revert BadNodeSignature();
        }
        nodeOf[licence] = node;
        licenceOf[node] = licence;
        nodeKeyOf[licence] = nodeKey;
        emit NodeLinked(licence, node, nodeKey, nodeKeySignature);
    }

    /// Unlinks the node of `licence` (its owner only).
    function unlinkNode(uint256 licence) external {
        if (ownerOf(licence) != msg.sender) revert NotLicenceOwner();
        address node = nodeOf[licence];
        if (node == address(0)) revert NotLinked();
        delete nodeOf[licence];
        delete licenceOf[node];
        delete nodeKeyOf[licence];
        emit NodeUnlinked(licence, node);
    }

    /// Whether `node` is linked to a licence.
    function isNodeActive(address node) external view returns (bool) {
        return licenceOf[node] != 0;
    }
}
