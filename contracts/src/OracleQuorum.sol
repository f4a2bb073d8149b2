// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title The oracle set and its quorum, shared by the contracts that act on oracle signatures.
/// @notice Signatures are counted only from listed oracles, in strictly ascending signer order,
/// so one oracle's signature cannot count twice.
abstract contract OracleQuorum {
    /// Signatures needed: 2f + 1.
    uint256 public immutable threshold;
    mapping(address => bool) public isOracle;

    error TooFewSignatures(uint256 valid, uint256 needed);

    constructor(address[] memory oracles, uint256 threshold_) {
        threshold = threshold_;
        for (uint256 i = 0; i < oracles.length; i++) {
            isOracle[oracles[i]] = true;
        }
    }

    /// Reverts unless `threshold` distinct listed oracles signed `digest`.
    function _requireQuorum(bytes32 digest, bytes[] calldata signatures) internal view {
        address last = address(0);
        uint256 valid = 0;
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (signer > last && isOracle[signer]) {
                valid++;
                last = signer;
            }
        }
        if (valid < threshold) revert TooFewSignatures(valid, threshold);
    }
}
