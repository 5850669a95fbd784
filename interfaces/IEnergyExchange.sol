// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title DAISEE energy exchange
/// @notice Meter registry, readings, offers, buyer rules, prepaid balances, escrowed purchases and
/// their settlement. Every exchange rule of the community lives behind this interface; the oracle,
/// relay and viewer services only submit readings, follow events and read state.
/// @dev Energy in Wh, prices in token base units per Wh, state of charge in permille (0..1000).
/// A member (account) owns at most one meter; one oracle key may serve several meters (a gateway).
///
/// A reading is one 256-bit word, in calldata and in its `MeterReading` event (bit 0 first):
///   meterId uint32 [0,32) | seq uint32 [32,64) | timestamp uint40 [64,104) |
///   producedWh uint48 [104,152) | consumedWh uint48 [152,200) | socPermille uint16 [200,216),
///   bits [216,256) zero. Counters are cumulative, as a real meter keeps them.
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
        InsufficientBalance,
        StaleReading
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

    /// @notice An open purchase. Delivery is the buyer's consumption after `start`, measured from
    /// its last reading timestamped at or before `start` (`startConsumedWh`).
    struct Purchase {
        uint32 id;
        address buyer;
        address seller;
        uint40 wh;
        uint96 amount;
        uint64 startConsumedWh;
        uint40 start;
        uint40 expiry;
        uint16 feeBps;
        uint8 channel;
    }

    // ---------------------------------------------------------------- events

    event MeterRegistered(uint32 indexed meterId, address indexed owner, address indexed oracle, MeterKind kind);
    event MeterOracleChanged(uint32 indexed meterId, address indexed oracle);
    event MeterDeactivated(uint32 indexed meterId);
    /// @notice A physical meter was replaced: its seq and counters restart from zero; the seller
    /// stock it had (produced - consumed) is carried over.
    event MeterReplaced(uint32 indexed meterId, address indexed oracle, uint32 lastSeq, uint64 producedWh, uint64 consumedWh);
    /// @notice One accepted reading, the same word as in `submitReadings` (layout above).
    event MeterReading(uint256 reading);
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
    event Deposited(address indexed member, address indexed from, uint256 amount);
    event Withdrawn(address indexed member, address indexed to, uint256 amount);
    event FeesWithdrawn(address indexed recipient, uint256 amount);
    event FeeSet(uint16 feeBps, address feeRecipient);
    event TimingSet(uint32 purchaseTtl, uint32 maxClockSkew, uint32 settleGrace);
    event MaxPurchaseSet(uint32 maxPurchaseWh);
    /// @notice The membership the registry counts meters into changed (address(0): none).
    event MembershipSet(address indexed previousMembership, address indexed membership);

    // ---------------------------------------------------------------- errors

    error ZeroAddress();
    error NoSuchMeter(uint32 meterId);
    error MemberHasMeter(address member);
    error NotAMember(address account);
    error WrongKind(MeterKind kind);
    error TooManyGateways();
    error NotAGateway(address sender);
    error EmptyBatch();
    error BatchTooLarge(uint256 size, uint256 max);
    /// @dev Batch errors carry the index of the failing reading; the whole batch reverts.
    error MalformedReading(uint256 index);
    error UnknownMeter(uint256 index, uint32 meterId);
    error WrongOracle(uint256 index, uint32 meterId, address sender);
    error SeqNotIncreasing(uint256 index, uint32 meterId, uint32 seq, uint32 lastSeq);
    error SeqStepTooLarge(uint256 index, uint32 meterId, uint32 seq, uint32 lastSeq);
    error CounterDecreased(uint256 index, uint32 meterId);
    error TimestampInFuture(uint256 index, uint40 timestamp, uint256 latestAllowed);
    error TimestampBeforeLast(uint256 index, uint40 timestamp, uint40 lastTimestamp);
    error SocOutOfRange(uint256 index, uint16 socPermille);
    error ThresholdOutOfRange(uint16 thresholdPermille);
    error DeltaOutOfRange(uint256 deltaWh, uint256 maxPurchaseWh);
    error TooManySellers(uint256 count, uint256 max);
    error LengthMismatch();
    error SelfTrade();
    error ZeroAmount();
    error AmountTooLarge();
    error NoOffer(address seller);
    error SellerNotInRule(address seller);
    error PriceAboveMax(uint96 pricePerWh, uint96 maxPricePerWh);
    error InsufficientEnergy(uint256 availableWh, uint256 requestedWh);
    error InsufficientBalance(uint256 balance, uint256 needed);
    error PurchaseAlreadyOpen(uint32 purchaseId);
    error NoOpenPurchase(uint32 meterId);
    error SettlementNotDue(uint32 purchaseId, uint256 due);
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
    /// @notice A new physical meter (read by `oracle`) replaces the old one: seq and counters start
    /// again from zero. Not while the meter has an open purchase.
    function replaceMeter(uint32 meterId, address oracle) external;

    // ---------------------------------------------------------------- readings (meter oracles)

    /// @notice Record a batch of packed readings (layout above); evaluates buyer rules and settles
    /// purchases on the way. Consecutive readings of one meter share one storage load and store.
    function submitReadings(uint256[] calldata batch) external;

    // ---------------------------------------------------------------- members

    function setOffer(uint96 pricePerWh, uint64 reserveWh) external;
    /// @notice A threshold of 0 disables automatic buying; otherwise 0 < deltaWh <= maxPurchaseWh.
    function setRule(
        uint16 thresholdPermille,
        uint40 deltaWh,
        uint96 maxPricePerWh,
        address[] calldata sellers,
        uint8[] calldata channels
    ) external;
    /// @notice Buy `wh` (<= maxPurchaseWh) from `seller`, one of the caller's rule sellers, at its
    /// offer price capped by the rule's max price, paid from the caller's balance in the exchange.
    function buyEnergy(address seller, uint256 wh) external returns (uint32 purchaseId);
    /// @notice Credit `member`'s balance in the exchange with `amount` tokens pulled from the caller.
    function deposit(address member, uint256 amount) external;
    /// @notice Relay `owner`'s EIP-2612 permit and move `value` of its tokens into its balance here.
    /// Reverts with PermitRejected when the exchange's allowance is below `value` afterwards.
    function depositWithPermit(address owner, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;
    /// @notice Send `amount` of the caller's balance to `to`.
    function withdraw(address to, uint256 amount) external;
    /// @notice Send the accrued operator fees to the fee recipient (anyone may call).
    function withdrawFees() external;
    /// @notice Settle an open purchase whose buyer meter stayed silent past `expiry + settleGrace`
    /// (counted from the last unpause if later). Anyone may call.
    function settleExpired(uint32 buyerMeterId) external;

    // ---------------------------------------------------------------- admin

    function setFee(uint16 feeBps, address feeRecipient) external;
    function setTiming(uint32 purchaseTtl, uint32 maxClockSkew, uint32 settleGrace) external;
    function setMaxPurchaseWh(uint32 maxPurchaseWh) external;
    /// @notice Wire the membership (ICommunityMembership) that meter registration and deactivation
    /// count members into; address(0) unwires it. DEFAULT_ADMIN_ROLE.
    function setMembership(address membership) external;
    /// @notice Stop readings, offers, rules and purchases: DEFAULT_ADMIN_ROLE or GUARDIAN_ROLE (an
    /// emergency key that can do nothing else).
    function pause() external;
    /// @notice Resume: DEFAULT_ADMIN_ROLE only (the governance timelock, i.e. a vote, after hand-over).
    function unpause() external;

    // ---------------------------------------------------------------- views

    function token() external view returns (address);
    function meterCount() external view returns (uint32);
    function meterOf(address member) external view returns (uint32);
    function gatewayIndexOf(address oracle) external view returns (uint16);
    function meter(uint32 meterId) external view returns (MeterInfo memory);
    function offerOf(address seller) external view returns (Offer memory);
    function ruleOf(address buyer) external view returns (Rule memory);
    function openPurchase(uint32 buyerMeterId) external view returns (Purchase memory);
    /// @notice Wh `seller` can still sell: produced - consumed - committed - reserve, floored at 0.
    function availableWh(address seller) external view returns (uint256);
    function balanceOf(address member) external view returns (uint256);
    function feesAccrued() external view returns (uint256);
    function feeBps() external view returns (uint16);
    function feeRecipient() external view returns (address);
    function purchaseTtl() external view returns (uint32);
    function maxClockSkew() external view returns (uint32);
    function settleGrace() external view returns (uint32);
    function maxPurchaseWh() external view returns (uint32);
    function nextPurchaseId() external view returns (uint32);
}
