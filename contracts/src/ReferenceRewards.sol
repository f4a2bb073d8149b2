// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {NodeLicence} from "./NodeLicence.sol";
import {R1Token} from "./R1Token.sol";

/// @title The reference's claim scheme, for gas comparison only (`make bench-chain`).
/// @notice As in Ratio1's `ratio1-sc`: a claim lists every epoch since the last claim with the
/// node's availability in each, and `k` oracle signatures, EIP-191 over
/// `keccak(node, epochs, availabilities)` (no chain id, contract or licence in the message),
/// checked one by one; reward per epoch `maxReleasePerEpoch * availability / 255`.
contract ReferenceRewards {
    R1Token public immutable token;
    NodeLicence public immutable licences;
    uint256 public immutable maxReleasePerEpoch;
    uint256 public immutable k;
    mapping(address => bool) public isOracle;
    mapping(uint256 => uint256) public lastClaimEpoch;

    error NotLicenceOwner();
    error BadEpochs();
    error BadSignature();

    constructor(R1Token token_, NodeLicence licences_, address[] memory oracles, uint256 k_, uint256 maxReleasePerEpoch_) {
        token = token_;
        licences = licences_;
        k = k_;
        maxReleasePerEpoch = maxReleasePerEpoch_;
        for (uint256 i = 0; i < oracles.length; i++) {
            isOracle[oracles[i]] = true;
        }
    }

    function claim(
        uint256 licence,
        uint256[] calldata epochs,
        uint256[] calldata availabilities,
        bytes[] calldata signatures
    ) external {
        if (licences.ownerOf(licence) != msg.sender) revert NotLicenceOwner();
        address node = licences.nodeOf(licence);
        if (epochs.length == 0 || epochs.length != availabilities.length) revert BadEpochs();
        bytes32 message = MessageHashUtils.toEthSignedMessageHash(
            keccak256(abi.encodePacked(node, epochs, availabilities))
        );
        for (uint256 i = 0; i < k; i++) {
            if (!isOracle[ECDSA.recover(message, signatures[i])]) revert BadSignature();
        }
        uint256 amount = 0;
        uint256 last = lastClaimEpoch[licence];
        for (uint256 i = 0; i < epochs.length; i++) {
            if (epochs[i] <= last) revert BadEpochs();
            last = epochs[i];
            amount += maxReleasePerEpoch * availabilities[i] / 255;
        }
        lastClaimEpoch[licence] = last;
        token.mint(msg.sender, amount);
    }
}
