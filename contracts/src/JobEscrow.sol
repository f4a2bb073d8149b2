// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {OracleQuorum} from "./OracleQuorum.sol";
import {R1Token} from "./R1Token.sol";

/// @title PoAI job escrow, with the reference's split.
/// @notice A job buys `nodes` nodes for `epochs` epochs (at least 30) at `pricePerEpoch` per
/// node and epoch, paid in full into escrow at creation. Each epoch, in order, is settled once
/// the oracles sign (EIP-712, this chain and contract) which nodes executed it: of the epoch's
/// payment for those nodes, 15 % is burned and 85 % credited to them in equal parts. What no
/// node earned (fewer executors than bought) returns to the owner once every epoch is settled.
contract JobEscrow is EIP712, OracleQuorum {
    using SafeERC20 for R1Token;

    bytes32 private constant SETTLE_TYPEHASH =
        keccak256("JobEpoch(uint256 job,uint32 epoch,bytes32 executors)");
    uint32 public constant MIN_EPOCHS = 30;
    uint256 public constant BURN_BPS = 1_500;

    struct Job {
        address owner;
        uint256 pricePerEpoch;
        uint32 nodes;
        uint32 epochs;
        uint32 settled;
        uint256 balance;
    }

    R1Token public immutable token;
    mapping(uint256 => Job) public jobs;
    uint256 public nextJob = 1;
    /// node => earned, withdrawable.
    mapping(address => uint256) public credit;

    event JobCreated(uint256 indexed job, address indexed owner, uint256 total);
    event EpochSettled(uint256 indexed job, uint32 epoch, uint256 paid, uint256 burned);

    error TooShort();
    error NoSuchJob();
    error TooManyExecutors();
    error AllSettled();
    error NotFinished();

    constructor(R1Token token_, address[] memory oracles, uint256 threshold_)
        EIP712("R1 JobEscrow", "1")
        OracleQuorum(oracles, threshold_)
    {
        token = token_;
    }

    /// Creates and funds a job (the caller approved `pricePerEpoch * nodes * epochs`).
    function create(uint256 pricePerEpoch, uint32 nodes, uint32 epochs) external returns (uint256 id) {
        if (epochs < MIN_EPOCHS) revert TooShort();
        uint256 total = pricePerEpoch * nodes * epochs;
        id = nextJob++;
        jobs[id] = Job(msg.sender, pricePerEpoch, nodes, epochs, 0, total);
        token.safeTransferFrom(msg.sender, address(this), total);
        emit JobCreated(id, msg.sender, total);
    }

    /// The digest oracles sign to certify that `executors` ran `job` in its epoch `epoch`.
    function settleDigest(uint256 job, uint32 epoch, address[] calldata executors) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(SETTLE_TYPEHASH, job, epoch, keccak256(abi.encodePacked(executors))))
        );
    }

    /// Settles the job's next epoch: `signatures` of distinct oracles in ascending order.
    function settle(uint256 job, address[] calldata executors, bytes[] calldata signatures) external {
        Job storage j = jobs[job];
        if (j.owner == address(0)) revert NoSuchJob();
        if (j.settled >= j.epochs) revert AllSettled();
        if (executors.length > j.nodes) revert TooManyExecutors();
        _requireQuorum(settleDigest(job, j.settled, executors), signatures);
        uint256 payment = j.pricePerEpoch * executors.length;
        uint256 burned = payment * BURN_BPS / 10_000;
        uint256 share = executors.length == 0 ? 0 : (payment - burned) / executors.length;
        for (uint256 i = 0; i < executors.length; i++) {
            credit[executors[i]] += share;
        }
        uint256 spent = burned + share * executors.length;
        j.balance -= spent;
        emit EpochSettled(job, j.settled, payment, burned);
        j.settled += 1;
        if (burned > 0) token.burn(burned);
    }

    /// Pays the caller's credit.
    function withdraw() external {
        uint256 amount = credit[msg.sender];
        credit[msg.sender] = 0;
        token.safeTransfer(msg.sender, amount);
    }

    /// Returns what no node earned to the owner, once every epoch is settled.
    function refund(uint256 job) external {
        Job storage j = jobs[job];
        if (j.settled < j.epochs) revert NotFinished();
        uint256 amount = j.balance;
        j.balance = 0;
        token.safeTransfer(j.owner, amount);
    }
}
