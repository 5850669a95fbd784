// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IEnergyExchange} from "../interfaces/IEnergyExchange.sol";

/// @title DAISEE energy exchange
/// @notice Holds every exchange rule of the community: who may report for which meter, what a
/// valid reading is, when a buyer's battery rule buys energy, how much a seller may sell, how
/// escrowed tokens are split between seller, operator fee and refund.
/// @dev Storage is laid out for the hot path, `submitReadings`: a meter's reading state and energy
/// counters are one slot each, loaded once per run of consecutive readings of the same meter and
/// written back once. The reading series itself lives only in `MeterReading` events.
/// The only external calls go to the immutable community token (OpenZeppelin ERC20, no hooks),
/// always after the exchange's own state is written. `multicall` (OpenZeppelin) lets the operator
/// onboard a street (registrations, relayed permits) in one transaction; each call keeps its own checks.
contract EnergyExchange is IEnergyExchange, AccessControl, Pausable, Multicall {
    using SafeERC20 for IERC20;

    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    uint16 public constant MAX_FEE_BPS = 1_000;
    uint256 public constant MAX_BATCH = 512;
    uint256 public constant MAX_SELLERS = 6;
    uint16 private constant FULL_SOC = 1_000;
    uint32 private constant MAX_CLOCK_SKEW = 1 days;

    // ------------------------------------------------------------ storage

    /// @dev Slot 0 of a meter: identity and last reading, rewritten by every batch.
    struct MeterState {
        address oracle;
        MeterKind kind;
        uint32 seq;
        uint40 timestamp;
        uint16 socPermille;
    }

    /// @dev Slot 1 of a meter: counters, rewritten by every batch. `committedWh` is what the meter's
    /// owner has sold or reserved as a seller; `thresholdPermille` is its buyer rule's trigger.
    struct Energy {
        uint64 producedWh;
        uint64 consumedWh;
        uint64 committedWh;
        uint32 openPurchaseId;
        uint16 thresholdPermille;
    }

    struct Account {
        address owner;
        uint96 pricePerWh;
    }

    struct Terms {
        uint64 reserveWh;
        uint40 deltaWh;
        uint96 maxPricePerWh;
        uint8 sellerCount;
    }

    /// @dev The open purchase of a buyer lives in its own meter record and is never zeroed, so
    /// only registration pays for fresh slots (see `registerMeter`).
    struct Deal {
        uint96 amount;
        uint40 wh;
        uint64 startConsumedWh;
        uint40 expiry;
        uint16 feeBps;
    }

    struct Counterparty {
        address seller;
        uint32 sellerMeterId;
        uint8 channel;
        uint8 warm;
    }

    struct MeterRecord {
        MeterState state;
        Energy energy;
        Account account;
        Terms terms;
        uint256 sellers; // MAX_SELLERS x (uint32 meterId | uint8 channel), 40 bits each
        Deal deal;
        Counterparty counterparty;
    }

    IERC20 private immutable _token;

    // These pack into one slot with Pausable's flag.
    uint32 public nextPurchaseId = 1;
    uint32 public meterCount;
    uint16 public feeBps;
    uint32 public purchaseTtl = 1 hours;
    uint32 public maxClockSkew = 5 minutes;
    address public feeRecipient;

    mapping(address member => uint32 meterId) public meterOf;
    mapping(uint32 meterId => MeterRecord) private _meters;

    /// @param token_ The community token used for every payment.
    /// @param admin Holds DEFAULT_ADMIN_ROLE: roles, fee, timing, pause.
    /// @param feeRecipient_ Receives the operator fee.
    /// @param feeBps_ Operator fee on delivered energy, in basis points (<= MAX_FEE_BPS).
    constructor(address token_, address admin, address feeRecipient_, uint16 feeBps_) {
        if (token_ == address(0) || admin == address(0)) revert ZeroAddress();
        _token = IERC20(token_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setFee(feeBps_, feeRecipient_);
    }

    // ------------------------------------------------------------ registry

    /// @inheritdoc IEnergyExchange
    function registerMeter(address owner, MeterKind kind, address oracle)
        external
        onlyRole(OPERATOR_ROLE)
        returns (uint32 meterId)
    {
        if (owner == address(0) || oracle == address(0)) revert ZeroAddress();
        if (kind == MeterKind.None) revert WrongKind(kind);
        if (meterOf[owner] != 0) revert MemberHasMeter(owner);
        meterId = ++meterCount;
        meterOf[owner] = meterId;
        MeterRecord storage m = _meters[meterId];
        m.state = MeterState({oracle: oracle, kind: kind, seq: 0, timestamp: 0, socPermille: 0});
        m.account.owner = owner;
        // Pre-warm the purchase slots: every purchase then rewrites non-zero slots (2 900 gas)
        // instead of filling empty ones (20 000), and the member's first purchase costs the same
        // as its hundredth. The operator pays this once, at registration.
        m.deal.expiry = 1;
        m.counterparty.warm = 1;
        emit MeterRegistered(meterId, owner, oracle, kind);
    }

    /// @inheritdoc IEnergyExchange
    function setMeterOracle(uint32 meterId, address oracle) external onlyRole(OPERATOR_ROLE) {
        if (oracle == address(0)) revert ZeroAddress();
        _activeState(meterId).oracle = oracle;
        emit MeterOracleChanged(meterId, oracle);
    }

    /// @inheritdoc IEnergyExchange
    function deactivateMeter(uint32 meterId) external onlyRole(OPERATOR_ROLE) {
        MeterRecord storage m = _meters[meterId];
        _activeState(meterId).kind = MeterKind.None;
        // A deactivated member can neither sell nor buy by rule any more.
        m.account.pricePerWh = 0;
        m.energy.thresholdPermille = 0;
        emit MeterDeactivated(meterId);
    }

    // ------------------------------------------------------------ readings

    /// @inheritdoc IEnergyExchange
    /// @dev Reverts as a whole on the first bad reading, naming its index, so that an oracle never
    /// has part of a batch on-chain: it drops or fixes that reading and resends the rest.
    function submitReadings(Reading[] calldata batch) external whenNotPaused {
        uint256 n = batch.length;
        if (n == 0) revert EmptyBatch();
        if (n > MAX_BATCH) revert BatchTooLarge(n, MAX_BATCH);
        uint256 latestAllowed = block.timestamp + maxClockSkew;

        uint32 current;
        MeterState memory st;
        Energy memory en;
        for (uint256 i; i < n; ++i) {
            // Each calldata field is read once: re-reading re-validates it and costs gas per reading.
            Reading calldata r = batch[i];
            uint32 id = r.meterId;
            uint32 seq = r.seq;
            uint40 ts = r.timestamp;
            uint64 produced = r.producedWh;
            uint64 consumed = r.consumedWh;
            uint16 soc = r.socPermille;
            if (id != current) {
                if (current != 0) _store(current, st, en);
                current = id;
                st = _meters[id].state;
                en = _meters[id].energy;
                if (st.kind == MeterKind.None) revert UnknownMeter(i, id);
                if (st.oracle != msg.sender) revert WrongOracle(i, id, msg.sender);
            }
            if (seq <= st.seq) revert SeqNotIncreasing(i, id, seq, st.seq);
            if (ts > latestAllowed) revert TimestampInFuture(i, ts, latestAllowed);
            if (ts < st.timestamp) revert TimestampBeforeLast(i, ts, st.timestamp);
            if (produced < en.producedWh || consumed < en.consumedWh) revert CounterDecreased(i, id);
            if (soc > FULL_SOC) revert SocOutOfRange(i, soc);

            st.seq = seq;
            st.timestamp = ts;
            st.socPermille = soc;
            en.producedWh = produced;
            en.consumedWh = consumed;
            emit MeterReading(id, seq, ts, produced, consumed, soc);

            if (en.openPurchaseId != 0) {
                Deal memory d = _meters[id].deal;
                if (consumed - d.startConsumedWh >= d.wh || ts >= d.expiry) _settle(id, en, d);
            }
            if (en.openPurchaseId == 0 && soc < en.thresholdPermille) {
                _buyByRule(id, en, ts);
            }
        }
        _store(current, st, en);
    }

    // ------------------------------------------------------------ members

    /// @inheritdoc IEnergyExchange
    function setOffer(uint96 pricePerWh, uint64 reserveWh) external whenNotPaused {
        uint32 id = _memberMeter(msg.sender);
        MeterKind kind = _meters[id].state.kind;
        if (kind != MeterKind.Producer && kind != MeterKind.Prosumer) revert WrongKind(kind);
        _meters[id].account.pricePerWh = pricePerWh;
        _meters[id].terms.reserveWh = reserveWh;
        emit OfferSet(msg.sender, pricePerWh, reserveWh);
    }

    /// @inheritdoc IEnergyExchange
    /// @dev A threshold of 0 disables automatic buying. `maxPricePerWh * deltaWh` must fit the
    /// escrow amount type, so a rule that fires can never overflow.
    function setRule(
        uint16 thresholdPermille,
        uint40 deltaWh,
        uint96 maxPricePerWh,
        address[] calldata sellers,
        uint8[] calldata channels
    ) external whenNotPaused {
        uint32 id = _memberMeter(msg.sender);
        MeterKind kind = _meters[id].state.kind;
        if (kind != MeterKind.Consumer && kind != MeterKind.Prosumer) revert WrongKind(kind);
        if (thresholdPermille > FULL_SOC) revert ThresholdOutOfRange(thresholdPermille);
        uint256 count = sellers.length;
        if (count > MAX_SELLERS) revert TooManySellers(count, MAX_SELLERS);
        if (count != channels.length) revert LengthMismatch();
        if (uint256(maxPricePerWh) * deltaWh > type(uint96).max) revert AmountTooLarge();

        uint256 packed;
        for (uint256 k; k < count; ++k) {
            uint32 sellerId = _memberMeter(sellers[k]);
            if (sellerId == id) revert SelfTrade();
            packed |= (uint256(sellerId) << 8 | channels[k]) << (40 * k);
        }
        MeterRecord storage m = _meters[id];
        m.energy.thresholdPermille = thresholdPermille;
        m.terms.deltaWh = deltaWh;
        m.terms.maxPricePerWh = maxPricePerWh;
        m.terms.sellerCount = uint8(count);
        m.sellers = packed;
        emit RuleSet(msg.sender, thresholdPermille, deltaWh, maxPricePerWh, sellers, channels);
    }

    /// @inheritdoc IEnergyExchange
    function buyEnergy(address seller, uint256 wh) public whenNotPaused returns (uint32 purchaseId) {
        uint32 buyerId = _memberMeter(msg.sender);
        MeterRecord storage b = _meters[buyerId];
        MeterKind kind = b.state.kind;
        if (kind != MeterKind.Consumer && kind != MeterKind.Prosumer) revert WrongKind(kind);
        Energy memory en = b.energy;
        if (en.openPurchaseId != 0) revert PurchaseAlreadyOpen(en.openPurchaseId);
        if (wh == 0) revert ZeroAmount();
        if (wh > type(uint40).max) revert AmountTooLarge();

        uint32 sellerId = _memberMeter(seller);
        if (sellerId == buyerId) revert SelfTrade();
        (bool listed, uint8 channel) = _channelFor(b, sellerId);
        if (!listed) revert SellerNotInRule(seller);
        uint96 price = _meters[sellerId].account.pricePerWh;
        if (price == 0) revert NoOffer(seller);
        uint96 maxPrice = b.terms.maxPricePerWh;
        if (price > maxPrice) revert PriceAboveMax(price, maxPrice);
        uint256 available = _available(sellerId);
        if (available < wh) revert InsufficientEnergy(available, wh);
        uint256 amount = uint256(price) * wh;
        if (amount > type(uint96).max) revert AmountTooLarge();

        purchaseId = _open(buyerId, en, sellerId, seller, uint40(wh), uint96(amount), channel, block.timestamp);
        b.energy.openPurchaseId = en.openPurchaseId;
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IEnergyExchange
    function buyEnergyWithPermit(
        address seller,
        uint256 wh,
        uint256 permitValue,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint32 purchaseId) {
        _tryPermit(msg.sender, permitValue, deadline, v, r, s);
        return buyEnergy(seller, wh);
    }

    /// @inheritdoc IEnergyExchange
    /// @dev A failed permit reverts unless the allowance is in place anyway (a front-run permit): a
    /// relayer's gas estimate must not settle on a limit at which the permit silently runs out of
    /// gas inside the try. A permit that succeeded set the allowance to `value`: nothing to read.
    function permitBudget(address owner, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external {
        if (_tryPermit(owner, value, deadline, v, r, s)) return; // the allowance is now `value`
        uint256 allowed = _token.allowance(owner, address(this));
        if (allowed < value) revert PermitRejected(owner, allowed, value);
    }

    /// @inheritdoc IEnergyExchange
    /// @dev Works while paused, so that escrowed tokens can always go back to their owners.
    function settleExpired(uint32 buyerMeterId) external {
        MeterRecord storage b = _meters[buyerMeterId];
        Energy memory en = b.energy;
        if (en.openPurchaseId == 0) revert NoOpenPurchase(buyerMeterId);
        Deal memory d = b.deal;
        if (block.timestamp < d.expiry) revert PurchaseNotExpired(en.openPurchaseId, d.expiry);
        _settle(buyerMeterId, en, d);
        b.energy.openPurchaseId = 0;
    }

    // ------------------------------------------------------------ admin

    /// @inheritdoc IEnergyExchange
    function setFee(uint16 feeBps_, address feeRecipient_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setFee(feeBps_, feeRecipient_);
    }

    /// @inheritdoc IEnergyExchange
    function setTiming(uint32 purchaseTtl_, uint32 maxClockSkew_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (purchaseTtl_ == 0 || maxClockSkew_ > MAX_CLOCK_SKEW) revert InvalidTiming();
        purchaseTtl = purchaseTtl_;
        maxClockSkew = maxClockSkew_;
        emit TimingSet(purchaseTtl_, maxClockSkew_);
    }

    /// @inheritdoc IEnergyExchange
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /// @inheritdoc IEnergyExchange
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------ views

    /// @inheritdoc IEnergyExchange
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IEnergyExchange
    function meter(uint32 meterId) external view returns (MeterInfo memory info) {
        MeterRecord storage m = _meters[meterId];
        MeterState memory st = m.state;
        Energy memory en = m.energy;
        info = MeterInfo({
            owner: m.account.owner,
            oracle: st.oracle,
            kind: st.kind,
            seq: st.seq,
            timestamp: st.timestamp,
            socPermille: st.socPermille,
            producedWh: en.producedWh,
            consumedWh: en.consumedWh,
            committedWh: en.committedWh,
            openPurchaseId: en.openPurchaseId
        });
    }

    /// @inheritdoc IEnergyExchange
    function offerOf(address seller) external view returns (Offer memory) {
        MeterRecord storage m = _meters[meterOf[seller]];
        return Offer({pricePerWh: m.account.pricePerWh, reserveWh: m.terms.reserveWh});
    }

    /// @inheritdoc IEnergyExchange
    function ruleOf(address buyer) external view returns (Rule memory rule) {
        MeterRecord storage m = _meters[meterOf[buyer]];
        uint256 count = m.terms.sellerCount;
        rule.thresholdPermille = m.energy.thresholdPermille;
        rule.deltaWh = m.terms.deltaWh;
        rule.maxPricePerWh = m.terms.maxPricePerWh;
        rule.sellers = new address[](count);
        rule.channels = new uint8[](count);
        uint256 packed = m.sellers;
        for (uint256 k; k < count; ++k) {
            uint256 entry = packed >> (40 * k);
            rule.sellers[k] = _meters[uint32(entry >> 8)].account.owner;
            rule.channels[k] = uint8(entry);
        }
    }

    /// @inheritdoc IEnergyExchange
    function openPurchase(uint32 buyerMeterId) external view returns (Purchase memory p) {
        MeterRecord storage b = _meters[buyerMeterId];
        uint32 id = b.energy.openPurchaseId;
        if (id == 0) return p;
        Deal memory d = b.deal;
        Counterparty memory c = b.counterparty;
        p = Purchase({
            id: id,
            buyer: b.account.owner,
            seller: c.seller,
            wh: d.wh,
            amount: d.amount,
            startConsumedWh: d.startConsumedWh,
            expiry: d.expiry,
            feeBps: d.feeBps,
            channel: c.channel
        });
    }

    /// @inheritdoc IEnergyExchange
    function availableWh(address seller) external view returns (uint256) {
        uint32 id = meterOf[seller];
        return id == 0 ? 0 : _available(id);
    }

    // ------------------------------------------------------------ internals

    /// @dev First eligible seller of the buyer's ordered list: priced within the rule, enough
    /// unreserved energy. A rule that cannot be served emits PurchaseSkipped instead of reverting,
    /// so a buyer's empty wallet never blocks its meter's readings.
    function _buyByRule(uint32 buyerId, Energy memory en, uint40 timestamp) private {
        MeterRecord storage b = _meters[buyerId];
        Terms memory t = b.terms;
        uint256 packed = b.sellers;
        address buyer = b.account.owner;
        for (uint256 k; k < t.sellerCount; ++k) {
            uint256 entry = packed >> (40 * k);
            uint32 sellerId = uint32(entry >> 8);
            Account memory sa = _meters[sellerId].account;
            if (sa.pricePerWh == 0 || sa.pricePerWh > t.maxPricePerWh) continue;
            if (_available(sellerId) < t.deltaWh) continue;

            uint256 amount = uint256(sa.pricePerWh) * t.deltaWh; // fits: checked in setRule
            if (_token.allowance(buyer, address(this)) < amount) {
                emit PurchaseSkipped(buyer, SkipReason.InsufficientAllowance);
                return;
            }
            if (_token.balanceOf(buyer) < amount) {
                emit PurchaseSkipped(buyer, SkipReason.InsufficientBalance);
                return;
            }
            _open(buyerId, en, sellerId, sa.owner, t.deltaWh, uint96(amount), uint8(entry), timestamp);
            _token.safeTransferFrom(buyer, address(this), amount);
            return;
        }
        emit PurchaseSkipped(buyer, SkipReason.NoEligibleSeller);
    }

    /// @dev Records the purchase in the buyer's record and reserves the seller's energy.
    /// `en` is the buyer's in-memory counters; the caller persists its openPurchaseId.
    function _open(
        uint32 buyerId,
        Energy memory en,
        uint32 sellerId,
        address seller,
        uint40 wh,
        uint96 amount,
        uint8 channel,
        uint256 start
    ) private returns (uint32 purchaseId) {
        purchaseId = nextPurchaseId++;
        MeterRecord storage b = _meters[buyerId];
        b.deal = Deal({
            amount: amount,
            wh: wh,
            startConsumedWh: en.consumedWh,
            expiry: uint40(start + purchaseTtl),
            feeBps: feeBps
        });
        b.counterparty = Counterparty({seller: seller, sellerMeterId: sellerId, channel: channel, warm: 1});
        _meters[sellerId].energy.committedWh += wh;
        en.openPurchaseId = purchaseId;
        emit BuyEnergy(purchaseId, b.account.owner, seller, wh, amount, channel);
    }

    /// @dev Pays the seller for what the buyer's meter measured since the purchase (capped at the
    /// amount bought), takes the operator fee from that payment, refunds the rest to the buyer and
    /// releases the seller's undelivered reservation. `en` is the buyer's in-memory counters.
    function _settle(uint32 buyerId, Energy memory en, Deal memory d) private {
        MeterRecord storage b = _meters[buyerId];
        Counterparty memory c = b.counterparty;
        uint256 delivered = en.consumedWh - d.startConsumedWh;
        if (delivered > d.wh) delivered = d.wh;
        uint256 gross = uint256(d.amount) * delivered / d.wh;
        uint256 fee = gross * d.feeBps / 10_000;
        uint256 refund = d.amount - gross;
        uint32 purchaseId = en.openPurchaseId;
        en.openPurchaseId = 0;
        _meters[c.sellerMeterId].energy.committedWh -= uint64(d.wh - delivered);
        address buyer = b.account.owner;
        emit PurchaseSettled(purchaseId, buyer, c.seller, delivered, gross - fee, refund, fee);

        if (gross > fee) _token.safeTransfer(c.seller, gross - fee);
        if (fee != 0) _token.safeTransfer(feeRecipient, fee);
        if (refund != 0) _token.safeTransfer(buyer, refund);
    }

    function _available(uint32 sellerId) private view returns (uint256) {
        MeterRecord storage s = _meters[sellerId];
        Energy memory se = s.energy;
        uint256 used = uint256(se.consumedWh) + se.committedWh + s.terms.reserveWh;
        return se.producedWh > used ? se.producedWh - used : 0;
    }

    function _channelFor(MeterRecord storage b, uint32 sellerId) private view returns (bool, uint8) {
        uint256 packed = b.sellers;
        uint256 count = b.terms.sellerCount;
        for (uint256 k; k < count; ++k) {
            uint256 entry = packed >> (40 * k);
            if (uint32(entry >> 8) == sellerId) return (true, uint8(entry));
        }
        return (false, 0);
    }

    function _store(uint32 id, MeterState memory st, Energy memory en) private {
        MeterRecord storage m = _meters[id];
        m.state = st;
        m.energy = en;
    }

    function _memberMeter(address member) private view returns (uint32 id) {
        id = meterOf[member];
        if (id == 0) revert NotAMember(member);
    }

    function _activeState(uint32 meterId) private view returns (MeterState storage st) {
        st = _meters[meterId].state;
        if (st.kind == MeterKind.None) revert NoSuchMeter(meterId);
    }

    /// @dev A permit can be front-run by anyone who copies it from the mempool; that only spends
    /// the nonce, so a failing permit is ignored and the allowance itself is what counts.
    function _tryPermit(address owner, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        private
        returns (bool ok)
    {
        try IERC20Permit(address(_token)).permit(owner, address(this), value, deadline, v, r, s) {
            ok = true;
        } catch {}
    }

    function _setFee(uint16 feeBps_, address feeRecipient_) private {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        if (feeRecipient_ == address(0)) revert ZeroAddress();
        feeBps = feeBps_;
        feeRecipient = feeRecipient_;
        emit FeeSet(feeBps_, feeRecipient_);
    }
}
