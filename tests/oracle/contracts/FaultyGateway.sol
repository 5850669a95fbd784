// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Test double of a misbehaving exchange: the oracle submits to it as to the exchange and
/// it forwards every call to the real one (it is the meters' registered gateway), except that a
/// batch holding a reading of one of the meters below reverts in a way the exchange's ABI does
/// not describe, or lies about the chain's seq.
contract FaultyGateway {
    /// Same signature as the exchange's: the oracle decodes it.
    error SeqNotIncreasing(uint256 index, uint32 meterId, uint32 seq, uint32 lastSeq);
    /// Not in the exchange's ABI.
    error Mystery(uint256 code);

    address public immutable exchange;
    uint32 public immutable panicMeter; // Panic(0x12), division by zero
    uint32 public immutable silentMeter; // revert without data
    uint32 public immutable mysteryMeter; // Mystery(7)
    uint32 public immutable lyingMeter; // SeqNotIncreasing while the chain's seq is lower

    constructor(address exchange_, uint32 panic_, uint32 silent_, uint32 mystery_, uint32 lying_) {
        exchange = exchange_;
        (panicMeter, silentMeter, mysteryMeter, lyingMeter) = (panic_, silent_, mystery_, lying_);
    }

    function submitReadings(uint256[] calldata batch) external {
        for (uint256 i; i < batch.length; ++i) {
            uint32 id = uint32(batch[i]);
            uint32 seq = uint32(batch[i] >> 32);
            uint256 zero = batch[i] >> 255; // a valid reading leaves bits 216..255 clear
            if (id == panicMeter) batch[i] / zero;
            if (id == silentMeter) revert();
            if (id == mysteryMeter) revert Mystery(7);
            if (id == lyingMeter) revert SeqNotIncreasing(i, id, seq, seq);
        }
        _forward();
    }

    fallback() external {
        _forward();
    }

    function _forward() private {
        (bool ok, bytes memory result) = exchange.call(msg.data);
        assembly {
            if iszero(ok) { revert(add(result, 32), mload(result)) }
            return(add(result, 32), mload(result))
        }
    }
}
