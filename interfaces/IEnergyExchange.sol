// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title DAISEE energy exchange
/// @notice Meter registry, readings, offers, buyer rules, escrowed purchases and their settlement.
/// Every exchange rule of the community lives behind this interface; the oracle, relay and viewer
/// services only submit readings, follow events and read state.
/// @dev Energy in Wh, prices in token base units per Wh, state of charge in permille (0..1000).
/// A member (account) owns at most one meter; one oracle key may serve several meters (a gateway).
interface IEnergyExchange {
    enum MeterKind {
        None,
        Producer,
        Consumer,
        Prosumer
    }

    /// @notice Why a rule that fired did not produce a purchase.
    enum SkipReason {
        NoEligibleSeller,
        InsufficientAllowance,
        InsufficientBalance
    }

    /// @notice One meter reading with cumulative counters, as a real meter keeps them.
    struct Reading {
        uint32 meterId;
        uint32 seq;
        uint40 timestamp;
        uint64 producedWh;
        uint64 consumedWh;
        uint16 socPermille;
    }

    /// @notice Everything the services need to know about one meter.
    struct MeterInfo {
        address owner;
        address oracle;
        MeterKind kind;
        uint32 seq;
        uint40 timestamp;
        uint16 socPermille;
        uint64 producedWh;
        uint64 consumedWh;
        uint64 committedWh;
        uint32 openPurchaseId;
    }

    struct Offer {
        uint96 pricePerWh;
        uint64 reserveWh;
    }

    struct Rule {
        uint16 thresholdPermille;
        uint40 deltaWh;
        uint96 maxPricePerWh;
        address[] sellers;
        uint8[] channels;
    }

    struct Purchase {
        uint32 id;
        address buyer;
        address seller;
        uint40 wh;
        uint96 amount;
        uint64 startConsumedWh;
        uint40 expiry;
        uint16 feeBps;
        uint8 channel;
    }

    // ---------------------------------------------------------------- events

    event MeterRegistered(uint32 indexed meterId, address indexed owner, address indexed oracle, MeterKind kind);
    event MeterOracleChanged(uint32 indexed meterId, address indexed oracle);
    event MeterDeactivated(uint32 indexed meterId);
    event MeterReading(
        uint32 indexed meterId, uint32 seq, uint40 timestamp, uint64 producedWh, uint64 consumedWh, uint16 socPermille
    );
    event OfferSet(address indexed seller, uint96 pricePerWh, uint64 reserveWh);
    event RuleSet(
        address indexed buyer,
        uint16 thresholdPermille,
        uint40 deltaWh,
        uint96 maxPricePerWh,
        address[] sellers,
        uint8[] channels
    );
    event BuyEnergy(
        uint256 indexed purchaseId, address indexed buyer, address indexed seller, uint256 wh, uint256 amount, uint8 channel
    );
    event PurchaseSettled(
        uint256 indexed purchaseId,
        address indexed buyer,
        address indexed seller,
        uint256 deliveredWh,
        uint256 paid,
        uint256 refunded,
        uint256 fee
    );
    event PurchaseSkipped(address indexed buyer, SkipReason reason);
    event FeeSet(uint16 feeBps, address feeRecipient);
    event TimingSet(uint32 purchaseTtl, uint32 maxClockSkew);

    // ---------------------------------------------------------------- errors

    error ZeroAddress();
    error NoSuchMeter(uint32 meterId);
    error MemberHasMeter(address member);
    error NotAMember(address account);
    error WrongKind(MeterKind kind);
    error EmptyBatch();
    error BatchTooLarge(uint256 size, uint256 max);
    /// @dev Batch errors carry the index of the failing reading; the whole batch reverts.
    error UnknownMeter(uint256 index, uint32 meterId);
    error WrongOracle(uint256 index, uint32 meterId, address sender);
    error SeqNotIncreasing(uint256 index, uint32 meterId, uint32 seq, uint32 lastSeq);
    error CounterDecreased(uint256 index, uint32 meterId);
    error TimestampInFuture(uint256 index, uint40 timestamp, uint256 latestAllowed);
    error TimestampBeforeLast(uint256 index, uint40 timestamp, uint40 lastTimestamp);
    error SocOutOfRange(uint256 index, uint16 socPermille);
    error ThresholdOutOfRange(uint16 thresholdPermille);
    error TooManySellers(uint256 count, uint256 max);
    error LengthMismatch();
    error SelfTrade();
    error ZeroAmount();
    error AmountTooLarge();
    error NoOffer(address seller);
    error SellerNotInRule(address seller);
    error PriceAboveMax(uint96 pricePerWh, uint96 maxPricePerWh);
    error InsufficientEnergy(uint256 availableWh, uint256 requestedWh);
    error PurchaseAlreadyOpen(uint32 purchaseId);
    error NoOpenPurchase(uint32 meterId);
    error PurchaseNotExpired(uint32 purchaseId, uint40 expiry);
    error FeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    error InvalidTiming();
    error PermitRejected(address owner, uint256 allowance, uint256 value);

    // ---------------------------------------------------------------- registry (operator)

    /// @notice Register `owner`'s meter read by `oracle`. Returns the new meter id (1, 2, ...).
    function registerMeter(address owner, MeterKind kind, address oracle) external returns (uint32 meterId);
    /// @notice Rotate the key allowed to submit readings for a meter.
    function setMeterOracle(uint32 meterId, address oracle) external;
    /// @notice Stop accepting readings and trades for a meter (its open purchase can still settle).
    function deactivateMeter(uint32 meterId) external;

    // ---------------------------------------------------------------- readings (meter oracles)

    /// @notice Record a batch of readings; evaluates buyer rules and settles purchases on the way.
    function submitReadings(Reading[] calldata batch) external;

    // ---------------------------------------------------------------- members

    function setOffer(uint96 pricePerWh, uint64 reserveWh) external;
    function setRule(
        uint16 thresholdPermille,
        uint40 deltaWh,
        uint96 maxPricePerWh,
        address[] calldata sellers,
        uint8[] calldata channels
    ) external;
    /// @notice Buy `wh` from `seller` now, at its offer price, capped by the caller's rule max price.
    function buyEnergy(address seller, uint256 wh) external returns (uint32 purchaseId);
    /// @notice Same as buyEnergy, with an EIP-2612 permit for the exchange submitted first.
    function buyEnergyWithPermit(
        address seller,
        uint256 wh,
        uint256 permitValue,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint32 purchaseId);
    /// @notice Relay a member's EIP-2612 permit so rule-triggered purchases can pull its tokens.
    /// Reverts with PermitRejected when the exchange's allowance is still below `value` afterwards.
    function permitBudget(address owner, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;
    /// @notice Settle the open purchase of `buyerMeterId` once it has expired (anyone may call).
    function settleExpired(uint32 buyerMeterId) external;

    // ---------------------------------------------------------------- admin

    function setFee(uint16 feeBps, address feeRecipient) external;
    function setTiming(uint32 purchaseTtl, uint32 maxClockSkew) external;
    function pause() external;
    function unpause() external;

    // ---------------------------------------------------------------- views

    function token() external view returns (address);
    function meterCount() external view returns (uint32);
    function meterOf(address member) external view returns (uint32);
    function meter(uint32 meterId) external view returns (MeterInfo memory);
    function offerOf(address seller) external view returns (Offer memory);
    function ruleOf(address buyer) external view returns (Rule memory);
    function openPurchase(uint32 buyerMeterId) external view returns (Purchase memory);
    /// @notice Wh `seller` can still sell: produced - consumed - committed - reserve, floored at 0.
    function availableWh(address seller) external view returns (uint256);
    function feeBps() external view returns (uint16);
    function feeRecipient() external view returns (address);
    function purchaseTtl() external view returns (uint32);
    function maxClockSkew() external view returns (uint32);
    function nextPurchaseId() external view returns (uint32);
}
