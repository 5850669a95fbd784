// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {ICommunityMembership} from "../interfaces/ICommunityMembership.sol";
import {IEnergyExchange} from "../interfaces/IEnergyExchange.sol";

/// @title DAISEE meter registry and readings
/// @notice Who may report for which meter and what a valid reading is. The market built on it
/// (EnergyExchange) decides what a reading triggers.
/// @dev The hot path is a gateway Pi's batch of many meters, one reading each: every meter keeps
/// its whole reading state in ONE packed slot (`hot`), a reading is one calldata word, and its
/// event is that same word. Per reading that is one cold load and one store of a dirty slot,
/// plus the checks. Slot `hot`, bit 0 first:
///   gateway uint16 [0,16) | kind uint8 [16,24) | seq uint32 [24,56) | timestamp uint40 [56,96) |
///   producedWh uint48 [96,144) | consumedWh uint48 [144,192) | socPermille uint16 [192,208) |
///   thresholdPermille uint16 [208,224) | open purchase flag [224]
/// The reading fields [24,208) sit at the reading word's bits [32,216): shifting a reading right
/// by 8 bits lines them up, so a reading is merged into its meter's slot with one mask.
abstract contract MeterRegistry is IEnergyExchange, AccessControlDefaultAdminRules, Pausable {
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice Largest batch: MAX_BATCH readings that each settle and buy stay well under a 6 M
    /// gas block (the seed's PoA chain), see bench/gas.py.
    uint256 public constant MAX_BATCH = 64;
    /// @notice Largest seq increase per reading: an oracle may skip quarantined readings, but one
    /// reading can never push seq to its maximum and freeze the meter.
    uint256 public constant MAX_SEQ_STEP = 1 << 16;
    uint256 internal constant FULL_SOC = 1_000;

    uint256 internal constant KIND_SHIFT = 16;
    uint256 internal constant SEQ_SHIFT = 24;
    uint256 internal constant TS_SHIFT = 56;
    uint256 internal constant PRODUCED_SHIFT = 96;
    uint256 internal constant CONSUMED_SHIFT = 144;
    uint256 internal constant SOC_SHIFT = 192;
    uint256 internal constant THRESHOLD_SHIFT = 208;
    uint256 internal constant OPEN_BIT = 1 << 224;
    uint256 internal constant MASK16 = 0xffff;
    uint256 internal constant MASK32 = 0xffffffff;
    uint256 internal constant MASK40 = (1 << 40) - 1;
    uint256 internal constant MASK48 = (1 << 48) - 1;
    /// @dev The bits a reading writes: seq, timestamp, counters, SoC.
    uint256 internal constant READING_FIELDS = ((1 << 184) - 1) << SEQ_SHIFT;
    uint256 private constant NO_METER = 1 << 32;

    /// @dev Everything the exchange keeps per meter, one slot per concern; only `hot` is touched
    /// by a reading that triggers nothing. The market slots are pre-warmed at registration.
    struct MeterRecord {
        uint256 hot;
        Account account;
        Terms terms;
        uint256 sellers; // up to MAX_SELLERS x (uint32 meterId << 8 | uint8 channel), 40 bits each
        Deal deal;
        Counterparty counterparty;
        uint256 balancePlusOne; // the member's balance + 1: a credit never fills an empty slot
    }

    struct Account {
        address owner;
        uint96 pricePerWh;
    }

    /// @dev `committedWh`: sold or reserved as a seller; `carriedWh`: produced - consumed of the
    /// meters this one replaced (seller stock is lifetime net production).
    struct Terms {
        uint32 reserveWh;
        uint32 deltaWh;
        uint96 maxPricePerWh;
        uint8 sellerCount;
        uint48 committedWh;
        int40 carriedWh;
    }

    /// @dev The open purchase of a buyer, never zeroed (the next purchase rewrites warm slots).
    struct Deal {
        uint96 amount;
        uint32 wh;
        uint48 startConsumedWh;
        uint40 start;
        uint40 expiry;
    }

    struct Counterparty {
        address seller;
        uint32 sellerMeterId;
        uint32 purchaseId;
        uint8 channel;
        uint16 feeBps;
    }

    uint32 public meterCount;
    uint16 private _gatewayCount;
    mapping(address member => uint32 meterId) public meterOf;
    mapping(address oracle => uint16 index) public gatewayIndexOf;
    mapping(uint16 index => address oracle) private _gateways;
    mapping(uint32 meterId => MeterRecord) internal _meters;
    /// @notice The community's membership (one member, one vote), counted in and out by meter
    /// registration and deactivation; none wired: address(0). Never read by readings.
    ICommunityMembership public membership;

    constructor(address admin, uint48 adminDelay) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (admin == address(0)) revert ZeroAddress();
    }

    // ------------------------------------------------------------ registry

    /// @inheritdoc IEnergyExchange
    function registerMeter(address owner, MeterKind kind, address oracle)
        external
        onlyRole(OPERATOR_ROLE)
        returns (uint32 meterId)
    {
        if (owner == address(0)) revert ZeroAddress();
        if (kind == MeterKind.None) revert WrongKind(kind);
        if (meterOf[owner] != 0) revert MemberHasMeter(owner);
        uint256 gateway = _gatewayIndex(oracle);
        meterId = ++meterCount;
        meterOf[owner] = meterId;
        MeterRecord storage m = _meters[meterId];
        m.hot = gateway | uint256(kind) << KIND_SHIFT;
        m.account.owner = owner;
        _prewarm(m);
        emit MeterRegistered(meterId, owner, oracle, kind);
        ICommunityMembership members = membership;
        if (address(members) != address(0)) members.join(owner); // after every effect: CEI
    }

    /// @inheritdoc IEnergyExchange
    function setMeterOracle(uint32 meterId, address oracle) external onlyRole(OPERATOR_ROLE) {
        MeterRecord storage m = _activeMeter(meterId);
        m.hot = m.hot & ~MASK16 | _gatewayIndex(oracle);
        emit MeterOracleChanged(meterId, oracle);
    }

    /// @inheritdoc IEnergyExchange
    function deactivateMeter(uint32 meterId) external onlyRole(OPERATOR_ROLE) {
        MeterRecord storage m = _activeMeter(meterId);
        // Kind None stops its readings; threshold 0 and no price stop it buying by rule and selling.
        m.hot &= ~(uint256(0xff) << KIND_SHIFT | MASK16 << THRESHOLD_SHIFT);
        m.account.pricePerWh = 0;
        emit MeterDeactivated(meterId);
        ICommunityMembership members = membership;
        if (address(members) != address(0)) members.leave(m.account.owner); // after every effect: CEI
    }

    /// @inheritdoc IEnergyExchange
    function setMembership(address membership_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit MembershipSet(address(membership), membership_);
        membership = ICommunityMembership(membership_);
    }

    /// @inheritdoc IEnergyExchange
    function replaceMeter(uint32 meterId, address oracle) external onlyRole(OPERATOR_ROLE) {
        MeterRecord storage m = _activeMeter(meterId);
        uint256 hot = m.hot;
        if (hot & OPEN_BIT != 0) revert PurchaseAlreadyOpen(m.counterparty.purchaseId);
        uint256 produced = hot >> PRODUCED_SHIFT & MASK48;
        uint256 consumed = hot >> CONSUMED_SHIFT & MASK48;
        int256 carried = int256(m.terms.carriedWh) + int256(produced) - int256(consumed);
        if (carried > type(int40).max || carried < type(int40).min) revert AmountTooLarge();
        m.terms.carriedWh = int40(carried);
        // Keep kind, threshold and the last timestamp (time never goes back); restart seq, counters, SoC.
        uint256 keep = uint256(0xff) << KIND_SHIFT | MASK40 << TS_SHIFT | MASK16 << THRESHOLD_SHIFT;
        m.hot = hot & keep | _gatewayIndex(oracle);
        emit MeterReplaced(meterId, oracle, uint32(hot >> SEQ_SHIFT), uint64(produced), uint64(consumed));
    }

    // ------------------------------------------------------------ readings

    /// @inheritdoc IEnergyExchange
    /// @dev Reverts as a whole on the first bad reading, naming its index, so that an oracle never
    /// has part of a batch on-chain. Nothing a reading triggers can revert (see `_afterReading`).
    function submitReadings(uint256[] calldata batch) external whenNotPaused {
        uint256 n = batch.length;
        if (n == 0) revert EmptyBatch();
        if (n > MAX_BATCH) revert BatchTooLarge(n, MAX_BATCH);
        uint256 gateway = gatewayIndexOf[msg.sender];
        if (gateway == 0) revert NotAGateway(msg.sender);
        uint256 latestAllowed = block.timestamp + _maxClockSkew();

        uint256 current = NO_METER; // no valid id: meter 0 is checked like any other
        uint256 hot;
        for (uint256 i; i < n; ++i) {
            uint256 r = batch[i];
            uint256 id = r & MASK32;
            if (id != current) {
                if (current != NO_METER) _meters[uint32(current)].hot = hot;
                current = id;
                hot = _meters[uint32(id)].hot;
                if (hot >> KIND_SHIFT & 0xff == 0) revert UnknownMeter(i, uint32(id));
                if (hot & MASK16 != gateway) revert WrongOracle(i, uint32(id), msg.sender);
            }
            hot = _merge(i, r, hot, latestAllowed);
            emit MeterReading(r);
            if (hot & OPEN_BIT != 0 || (hot >> SOC_SHIFT & MASK16) < (hot >> THRESHOLD_SHIFT & MASK16)) {
                hot = _afterReading(uint32(id), hot);
            }
        }
        _meters[uint32(current)].hot = hot;
    }

    /// @dev Checks reading `r` (index `i`) against its meter's slot and returns the slot with the
    /// reading's fields in place.
    function _merge(uint256 i, uint256 r, uint256 hot, uint256 latestAllowed) private pure returns (uint256) {
        if (r >> 216 != 0) revert MalformedReading(i);
        uint256 seq = r >> 32 & MASK32;
        uint256 lastSeq = hot >> SEQ_SHIFT & MASK32;
        if (seq <= lastSeq) revert SeqNotIncreasing(i, uint32(r), uint32(seq), uint32(lastSeq));
        if (seq - lastSeq > MAX_SEQ_STEP) revert SeqStepTooLarge(i, uint32(r), uint32(seq), uint32(lastSeq));
        uint256 ts = r >> 64 & MASK40;
        if (ts > latestAllowed) revert TimestampInFuture(i, uint40(ts), latestAllowed);
        uint256 lastTs = hot >> TS_SHIFT & MASK40;
        if (ts < lastTs) revert TimestampBeforeLast(i, uint40(ts), uint40(lastTs));
        if (
            (r >> 104 & MASK48) < (hot >> PRODUCED_SHIFT & MASK48)
                || (r >> 152 & MASK48) < (hot >> CONSUMED_SHIFT & MASK48)
        ) revert CounterDecreased(i, uint32(r));
        uint256 soc = r >> 200;
        if (soc > FULL_SOC) revert SocOutOfRange(i, uint16(soc));
        return hot & ~READING_FIELDS | r >> 8 & READING_FIELDS;
    }

    // ------------------------------------------------------------ views

    /// @inheritdoc IEnergyExchange
    function meter(uint32 meterId) external view returns (MeterInfo memory info) {
        MeterRecord storage m = _meters[meterId];
        uint256 hot = m.hot;
        info = MeterInfo({
            owner: m.account.owner,
            oracle: _gateways[uint16(hot)],
            kind: MeterKind(uint8(hot >> KIND_SHIFT)),
            seq: uint32(hot >> SEQ_SHIFT),
            timestamp: uint40(hot >> TS_SHIFT),
            socPermille: uint16(hot >> SOC_SHIFT),
            producedWh: uint64(hot >> PRODUCED_SHIFT & MASK48),
            consumedWh: uint64(hot >> CONSUMED_SHIFT & MASK48),
            committedWh: m.terms.committedWh,
            openPurchaseId: hot & OPEN_BIT == 0 ? 0 : m.counterparty.purchaseId
        });
    }

    // ------------------------------------------------------------ hooks for the market

    /// @dev Called after a reading of `meterId` that shows an open purchase or a SoC under the
    /// buyer's threshold; returns the (possibly changed) slot. Must never revert.
    function _afterReading(uint32 meterId, uint256 hot) internal virtual returns (uint256);

    /// @dev Fills the market slots of a new meter with non-zero values.
    function _prewarm(MeterRecord storage m) internal virtual;

    function _maxClockSkew() internal view virtual returns (uint256);

    // ------------------------------------------------------------ internals

    function _gatewayIndex(address oracle) private returns (uint256 index) {
        if (oracle == address(0)) revert ZeroAddress();
        index = gatewayIndexOf[oracle];
        if (index == 0) {
            if (_gatewayCount == type(uint16).max) revert TooManyGateways();
            index = ++_gatewayCount;
            gatewayIndexOf[oracle] = uint16(index);
            _gateways[uint16(index)] = oracle;
        }
    }

    function _activeMeter(uint32 meterId) internal view returns (MeterRecord storage m) {
        m = _meters[meterId];
        if (m.hot >> KIND_SHIFT & 0xff == 0) revert NoSuchMeter(meterId);
    }

    function _memberMeter(address member) internal view returns (uint32 id) {
        id = meterOf[member];
        if (id == 0) revert NotAMember(member);
    }
}
