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
/// transaction, the node signs `Link(licence, node, deadline)` (EIP-712, this chain and this
/// contract). A node is active while it is linked to an existing licence.
contract NodeLicence is ERC721, Ownable, EIP712 {
    bytes32 private constant LINK_TYPEHASH = keccak256("Link(uint256 licence,address node,uint256 deadline)");

    uint256 public nextId = 1;
    /// licence => linked node (0: none).
    mapping(uint256 => address) public nodeOf;
    /// node => licence (0: none).
    mapping(address => uint256) public licenceOf;

    event NodeLinked(uint256 indexed licence, address indexed node);
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
    function linkDigest(uint256 licence, address node, uint256 deadline) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(LINK_TYPEHASH, licence, node, deadline)));
    }

    /// Links `node` to `licence` (its owner only), with the node's consent `nodeSignature`.
    function linkNode(uint256 licence, address node, uint256 deadline, bytes calldata nodeSignature) external {
        if (ownerOf(licence) != msg.sender) revert NotLicenceOwner();
        if (block.timestamp > deadline) revert Expired();
        if (node == address(0) || nodeOf[licence] != address(0) || licenceOf[node] != 0) revert AlreadyLinked();
        if (ECDSA.recover(linkDigest(licence, node, deadline), nodeSignature) != node) revert BadNodeSignature();
        nodeOf[licence] = node;
        licenceOf[node] = licence;
        emit NodeLinked(licence, node);
    }

    /// Unlinks the node of `licence` (its owner only).
    function unlinkNode(uint256 licence) external {
        if (ownerOf(licence) != msg.sender) revert NotLicenceOwner();
        address node = nodeOf[licence];
        if (node == address(0)) revert NotLinked();
        delete nodeOf[licence];
        delete licenceOf[node];
        emit NodeUnlinked(licence, node);
    }

    /// Whether `node` is linked to a licence.
    function isNodeActive(address node) external view returns (bool) {
        return licenceOf[node] != 0;
    }
}
