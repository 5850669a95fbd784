// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IEnergyExchange} from "../interfaces/IEnergyExchange.sol";
import {MeterRegistry} from "./MeterRegistry.sol";

/// @title DAISEE energy exchange
/// @notice The community's market on top of its meter registry: sellers' offers, buyers' battery
/// rules, prepaid balances, escrowed purchases and their settlement on measured delivery.
/// @dev Money moves in two places only. Members deposit tokens into a balance here (allowance or a
/// relayed EIP-2612 permit) and withdraw it; everything a reading triggers (a purchase, its
/// settlement, fees) moves balances inside this contract. So no token call, hook or member's
/// wallet state can make a reading revert, and the reading path has no external call at all.
/// Token calls happen after the state they depend on is written, under a re-entrancy guard.
///
/// Delivery: the buyer's meter measures it, from its last reading timestamped at or before the
/// purchase's start (the block that opened it) to its reading that shows the whole amount or is
/// timestamped at or after expiry. A buyer meter that stays silent past expiry + `settleGrace`
/// cannot earn a refund by its silence: `settleExpired` then pays the seller in full (the relay
/// kept the buyer on the seller's line all along). The grace runs from the last unpause too, so
/// queued readings of a pause land first.
contract EnergyExchange is MeterRegistry, Multicall, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Emergency key (e.g. the operator's): may pause, nothing else; unpausing is the admin's.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    uint16 public constant MAX_FEE_BPS = 1_000;
    uint256 public constant MAX_SELLERS = 6;
    uint32 public constant MAX_CLOCK_SKEW = 1 days;
    uint32 public constant MIN_PURCHASE_TTL = 5 minutes;
    uint32 public constant MAX_PURCHASE_TTL = 1 days;
    uint32 public constant MAX_SETTLE_GRACE = 1 days;

    IERC20 private immutable _token;

    // One slot, read by every batch (the clock skew) and written by every purchase.
    uint32 public nextPurchaseId = 1;
    uint16 public feeBps;
    uint32 public purchaseTtl = 1 hours;
    uint32 public maxClockSkew = 5 minutes;
    uint32 public settleGrace = 1 hours;
    uint40 private _unpausedAt;
    /// @notice Largest purchase, by rule or by hand: bounds what one member can reserve of a
    /// seller's stock for a TTL at no cost (a refund is free).
    uint32 public maxPurchaseWh = 5_000;

    address public feeRecipient;
    uint256 private _feesPlusOne = 1; // accrued fees + 1, so that accruing never fills an empty slot

    /// @param token_ The community token used for every payment.
    /// @param admin Holds DEFAULT_ADMIN_ROLE (roles, fee, timing, pause), handed over in two steps.
    /// @param adminDelay Seconds a new admin must wait before accepting the role.
    /// @param feeRecipient_ Receives the operator fee.
    /// @param feeBps_ Operator fee on delivered energy, in basis points (<= MAX_FEE_BPS).
    constructor(address token_, address admin, uint48 adminDelay, address feeRecipient_, uint16 feeBps_)
        MeterRegistry(admin, adminDelay)
    {
        if (token_ == address(0)) revert ZeroAddress();
        _token = IERC20(token_);
        _setFee(feeBps_, feeRecipient_);
    }

    // ------------------------------------------------------------ members: offers and rules

    /// @inheritdoc IEnergyExchange
    function setOffer(uint96 pricePerWh, uint64 reserveWh) external whenNotPaused {
        uint32 id = _memberMeter(msg.sender);
        MeterRecord storage m = _activeMeter(id);
        MeterKind kind = _kind(m.hot);
        if (kind != MeterKind.Producer && kind != MeterKind.Prosumer) revert WrongKind(kind);
        if (reserveWh > type(uint32).max) revert AmountTooLarge();
        m.account.pricePerWh = pricePerWh;
        m.terms.reserveWh = uint32(reserveWh);
        emit OfferSet(msg.sender, pricePerWh, reserveWh);
    }

    /// @inheritdoc IEnergyExchange
    /// @dev Every rule that can fire can be served and settled: 0 < delta <= maxPurchaseWh and
    /// `maxPricePerWh * deltaWh` fits the escrow amount type.
    function setRule(
        uint16 thresholdPermille,
        uint40 deltaWh,
        uint96 maxPricePerWh,
        address[] calldata sellers,
        uint8[] calldata channels
    ) external whenNotPaused {
        uint32 id = _memberMeter(msg.sender);
        MeterRecord storage m = _activeMeter(id);
        MeterKind kind = _kind(m.hot);
        if (kind != MeterKind.Consumer && kind != MeterKind.Prosumer) revert WrongKind(kind);
        if (thresholdPermille > FULL_SOC) revert ThresholdOutOfRange(thresholdPermille);
        if (thresholdPermille != 0 && (deltaWh == 0 || deltaWh > maxPurchaseWh)) {
            revert DeltaOutOfRange(deltaWh, maxPurchaseWh);
        }
        if (deltaWh > type(uint32).max || uint256(maxPricePerWh) * deltaWh > type(uint96).max) revert AmountTooLarge();
        uint256 count = sellers.length;
        if (count > MAX_SELLERS) revert TooManySellers(count, MAX_SELLERS);
        if (count != channels.length) revert LengthMismatch();

        uint256 packed;
        for (uint256 k; k < count; ++k) {
            uint32 sellerId = _memberMeter(sellers[k]);
            if (sellerId == id) revert SelfTrade();
            packed |= (uint256(sellerId) << 8 | channels[k]) << (40 * k);
        }
        m.hot = m.hot & ~(MASK16 << THRESHOLD_SHIFT) | uint256(thresholdPermille) << THRESHOLD_SHIFT;
        m.terms.deltaWh = uint32(deltaWh);
        m.terms.maxPricePerWh = maxPricePerWh;
        m.terms.sellerCount = uint8(count);
        m.sellers = packed;
        emit RuleSet(msg.sender, thresholdPermille, deltaWh, maxPricePerWh, sellers, channels);
    }

    // ------------------------------------------------------------ members: purchases

    /// @inheritdoc IEnergyExchange
    function buyEnergy(address seller, uint256 wh) external whenNotPaused returns (uint32 purchaseId) {
        uint32 buyerId = _memberMeter(msg.sender);
        MeterRecord storage b = _activeMeter(buyerId);
        uint256 hot = b.hot;
        MeterKind kind = _kind(hot);
        if (kind != MeterKind.Consumer && kind != MeterKind.Prosumer) revert WrongKind(kind);
        if (hot & OPEN_BIT != 0) revert PurchaseAlreadyOpen(b.counterparty.purchaseId);
        if (wh == 0 || wh > maxPurchaseWh) revert DeltaOutOfRange(wh, maxPurchaseWh);

        uint32 sellerId = _memberMeter(seller);
        if (sellerId == buyerId) revert SelfTrade();
        (bool listed, uint8 channel) = _channelFor(b, sellerId);
        if (!listed) revert SellerNotInRule(seller);
        uint96 price = _meters[sellerId].account.pricePerWh;
        if (price == 0) revert NoOffer(seller);
        uint96 maxPrice = b.terms.maxPricePerWh;
        if (price > maxPrice) revert PriceAboveMax(price, maxPrice);
        uint256 available = _available(sellerId, wh);
        if (available < wh) revert InsufficientEnergy(available, wh);
        uint256 amount = uint256(price) * wh; // <= maxPrice * maxPurchaseWh: fits uint96
        if (amount > type(uint96).max) revert AmountTooLarge();
        uint256 balance = b.balancePlusOne - 1;
        if (balance < amount) revert InsufficientBalance(balance, amount);

        b.balancePlusOne -= amount;
        (b.hot, purchaseId) = _open(buyerId, hot, sellerId, seller, uint32(wh), uint96(amount), channel);
    }

    /// @inheritdoc IEnergyExchange
    function settleExpired(uint32 buyerMeterId) external whenNotPaused {
        MeterRecord storage b = _meters[buyerMeterId];
        uint256 hot = b.hot;
        if (hot & OPEN_BIT == 0) revert NoOpenPurchase(buyerMeterId);
        Deal memory d = b.deal;
        uint256 due = _max(d.expiry, _unpausedAt) + settleGrace;
        if (block.timestamp < due) revert SettlementNotDue(b.counterparty.purchaseId, due);
        // A buyer reading at or after expiry would have settled: the buyer's meter went silent, and
        // silence earns no refund. A meter the operator deactivated settles on what it measured.
        uint256 delivered = _kind(hot) == MeterKind.None ? (hot >> CONSUMED_SHIFT & MASK48) - d.startConsumedWh : d.wh;
        b.hot = _settle(buyerMeterId, hot, d, delivered);
    }

    // ------------------------------------------------------------ members: money

    /// @inheritdoc IEnergyExchange
    function deposit(address member, uint256 amount) external nonReentrant {
        _deposit(member, msg.sender, amount);
    }

    /// @inheritdoc IEnergyExchange
    /// @dev A permit can be front-run by anyone who copies it from the mempool; that only spends
    /// the nonce, so a failed permit is ignored when the allowance is in place anyway.
    function depositWithPermit(address owner, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        try IERC20Permit(address(_token)).permit(owner, address(this), value, deadline, v, r, s) {}
        catch {
            uint256 allowed = _token.allowance(owner, address(this));
            if (allowed < value) revert PermitRejected(owner, allowed, value);
        }
        _deposit(owner, owner, value);
    }

    /// @inheritdoc IEnergyExchange
    function withdraw(address to, uint256 amount) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        MeterRecord storage m = _meters[_memberMeter(msg.sender)];
        uint256 balance = m.balancePlusOne - 1;
        if (balance < amount) revert InsufficientBalance(balance, amount);
        m.balancePlusOne -= amount;
        emit Withdrawn(msg.sender, to, amount);
        _token.safeTransfer(to, amount);
    }

    /// @inheritdoc IEnergyExchange
    function withdrawFees() external nonReentrant {
        uint256 amount = _feesPlusOne - 1;
        if (amount == 0) revert ZeroAmount();
        _feesPlusOne = 1;
        address recipient = feeRecipient;
        emit FeesWithdrawn(recipient, amount);
        _token.safeTransfer(recipient, amount);
    }

    // ------------------------------------------------------------ admin

    /// @inheritdoc IEnergyExchange
    function setFee(uint16 feeBps_, address feeRecipient_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setFee(feeBps_, feeRecipient_);
    }

    /// @inheritdoc IEnergyExchange
    function setTiming(uint32 purchaseTtl_, uint32 maxClockSkew_, uint32 settleGrace_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (
            purchaseTtl_ < MIN_PURCHASE_TTL || purchaseTtl_ > MAX_PURCHASE_TTL || maxClockSkew_ > MAX_CLOCK_SKEW
                || settleGrace_ > MAX_SETTLE_GRACE
        ) revert InvalidTiming();
        purchaseTtl = purchaseTtl_;
        maxClockSkew = maxClockSkew_;
        settleGrace = settleGrace_;
        emit TimingSet(purchaseTtl_, maxClockSkew_, settleGrace_);
    }

    /// @inheritdoc IEnergyExchange
    /// @dev Rules set under a higher bound stay as they are; only new rules and manual buys see it.
    function setMaxPurchaseWh(uint32 maxPurchaseWh_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (maxPurchaseWh_ == 0) revert ZeroAmount();
        maxPurchaseWh = maxPurchaseWh_;
        emit MaxPurchaseSet(maxPurchaseWh_);
    }

    /// @inheritdoc IEnergyExchange
    /// @dev The guardian can only pause: no unpause, no setter, no funds.
    function pause() external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) _checkRole(GUARDIAN_ROLE);
        _pause();
    }

    /// @inheritdoc IEnergyExchange
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpausedAt = uint40(block.timestamp);
        _unpause();
    }

    // ------------------------------------------------------------ views

    /// @inheritdoc IEnergyExchange
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IEnergyExchange
    function balanceOf(address member) external view returns (uint256) {
        uint32 id = meterOf[member];
        return id == 0 ? 0 : _meters[id].balancePlusOne - 1;
    }

    /// @inheritdoc IEnergyExchange
    function feesAccrued() external view returns (uint256) {
        return _feesPlusOne - 1;
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
        rule.thresholdPermille = uint16(m.hot >> THRESHOLD_SHIFT);
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
        if (b.hot & OPEN_BIT == 0) return p;
        Deal memory d = b.deal;
        Counterparty memory c = b.counterparty;
        p = Purchase({
            id: c.purchaseId,
            buyer: b.account.owner,
            seller: c.seller,
            wh: d.wh,
            amount: d.amount,
            startConsumedWh: d.startConsumedWh,
            start: d.start,
            expiry: d.expiry,
            feeBps: c.feeBps,
            channel: c.channel
        });
    }

    /// @inheritdoc IEnergyExchange
    function availableWh(address seller) external view returns (uint256) {
        uint32 id = meterOf[seller];
        return id == 0 ? 0 : _available(id, 0);
    }

    // ------------------------------------------------------------ reading hooks

    /// @dev Settles the buyer's open purchase when its reading shows the whole delivery or is
    /// timestamped at or after expiry, then lets its rule buy. Only arithmetic on this contract's
    /// storage, every value bounded when it was set: nothing here can revert.
    function _afterReading(uint32 id, uint256 hot) internal override returns (uint256) {
        MeterRecord storage b = _meters[id];
        uint256 ts = hot >> TS_SHIFT & MASK40;
        uint256 consumed = hot >> CONSUMED_SHIFT & MASK48;
        if (hot & OPEN_BIT != 0) {
            Deal memory d = b.deal;
            if (ts <= d.start) {
                // Consumption metered up to the start is not delivery: move the baseline.
                if (consumed != d.startConsumedWh) b.deal.startConsumedWh = uint48(consumed);
                return hot;
            }
            uint256 delivered = consumed - d.startConsumedWh;
            if (delivered < d.wh && ts < d.expiry) return hot;
            hot = _settle(id, hot, d, delivered);
        }
        if ((hot >> SOC_SHIFT & MASK16) < (hot >> THRESHOLD_SHIFT & MASK16)) hot = _buyByRule(id, hot, ts);
        return hot;
    }

    function _prewarm(MeterRecord storage m) internal override {
        // Every purchase then rewrites non-zero slots (2 900 gas) instead of filling empty ones
        // (20 000), so a member's first purchase costs what its hundredth does.
        m.deal.expiry = 1;
        m.counterparty.channel = 1;
        m.balancePlusOne = 1;
    }

    function _maxClockSkew() internal view override returns (uint256) {
        return maxClockSkew;
    }

    // ------------------------------------------------------------ internals

    /// @dev First eligible seller of the buyer's ordered list: priced within the rule, enough
    /// unreserved energy. A rule that cannot be served emits PurchaseSkipped; a reading older than
    /// the clock skew tells nothing about the battery now and buys nothing.
    function _buyByRule(uint32 buyerId, uint256 hot, uint256 ts) private returns (uint256) {
        MeterRecord storage b = _meters[buyerId];
        address buyer = b.account.owner;
        if (ts + maxClockSkew < block.timestamp) {
            emit PurchaseSkipped(buyer, SkipReason.StaleReading);
            return hot;
        }
        Terms memory t = b.terms;
        uint256 packed = b.sellers;
        for (uint256 k; k < t.sellerCount; ++k) {
            uint256 entry = packed >> (40 * k);
            uint32 sellerId = uint32(entry >> 8);
            Account memory sa = _meters[sellerId].account;
            if (sa.pricePerWh == 0 || sa.pricePerWh > t.maxPricePerWh) continue;
            if (_available(sellerId, t.deltaWh) < t.deltaWh) continue;

            uint256 amount = uint256(sa.pricePerWh) * t.deltaWh; // fits: checked in setRule
            uint256 balancePlusOne = b.balancePlusOne;
            if (balancePlusOne <= amount) {
                emit PurchaseSkipped(buyer, SkipReason.InsufficientBalance);
                return hot;
            }
            b.balancePlusOne = balancePlusOne - amount;
            (hot,) = _open(buyerId, hot, sellerId, sa.owner, t.deltaWh, uint96(amount), uint8(entry));
            return hot;
        }
        emit PurchaseSkipped(buyer, SkipReason.NoEligibleSeller);
        return hot;
    }

    /// @dev Records the purchase (paid from the buyer's balance by the caller) and reserves the
    /// seller's energy. Starts now, on the chain's clock, whatever the triggering reading's time.
    function _open(
        uint32 buyerId,
        uint256 hot,
        uint32 sellerId,
        address seller,
        uint32 wh,
        uint96 amount,
        uint8 channel
    ) private returns (uint256, uint32 purchaseId) {
        purchaseId = nextPurchaseId++;
        MeterRecord storage b = _meters[buyerId];
        uint16 fee = feeBps;
        b.deal = Deal({
            amount: amount,
            wh: wh,
            startConsumedWh: uint48(hot >> CONSUMED_SHIFT),
            start: uint40(block.timestamp),
            expiry: uint40(block.timestamp + purchaseTtl)
        });
        b.counterparty = Counterparty({
            seller: seller, sellerMeterId: sellerId, purchaseId: purchaseId, channel: channel, feeBps: fee
        });
        _meters[sellerId].terms.committedWh += wh; // fits: checked by _available
        emit BuyEnergy(purchaseId, b.account.owner, seller, wh, amount, channel);
        return (hot | OPEN_BIT, purchaseId);
    }

    /// @dev Pays the seller for `delivered` Wh (capped at the amount bought) minus the fee fixed at
    /// purchase time, refunds the rest to the buyer's balance and releases the seller's
    /// undelivered reservation. Returns the buyer's slot with the purchase closed.
    function _settle(uint32 buyerId, uint256 hot, Deal memory d, uint256 delivered) private returns (uint256) {
        MeterRecord storage b = _meters[buyerId];
        Counterparty memory c = b.counterparty;
        if (delivered > d.wh) delivered = d.wh;
        uint256 gross = d.wh == 0 ? 0 : uint256(d.amount) * delivered / d.wh;
        uint256 fee = gross * c.feeBps / 10_000;
        uint256 refund = d.amount - gross;
        if (delivered != d.wh) _meters[c.sellerMeterId].terms.committedWh -= uint48(d.wh - delivered);
        if (gross > fee) _meters[c.sellerMeterId].balancePlusOne += gross - fee;
        if (fee != 0) _feesPlusOne += fee;
        if (refund != 0) b.balancePlusOne += refund;
        emit PurchaseSettled(c.purchaseId, b.account.owner, c.seller, delivered, gross - fee, refund, fee);
        return hot & ~OPEN_BIT;
    }

    /// @dev What the seller can still sell, or 0 when reserving `wh` more would overflow its
    /// committed counter (a meter's own counters must never make a buyer's reading revert).
    function _available(uint32 sellerId, uint256 wh) private view returns (uint256) {
        MeterRecord storage s = _meters[sellerId];
        uint256 hot = s.hot;
        Terms memory t = s.terms;
        if (uint256(t.committedWh) + wh > MASK48) return 0;
        int256 stock = int256(hot >> PRODUCED_SHIFT & MASK48) - int256(hot >> CONSUMED_SHIFT & MASK48)
            + t.carriedWh - int256(uint256(t.committedWh)) - int256(uint256(t.reserveWh));
        return stock > 0 ? uint256(stock) : 0;
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

    function _deposit(address member, address from, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        MeterRecord storage m = _meters[_memberMeter(member)];
        m.balancePlusOne += amount;
        emit Deposited(member, from, amount);
        _token.safeTransferFrom(from, address(this), amount);
    }

    function _setFee(uint16 feeBps_, address feeRecipient_) private {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        if (feeRecipient_ == address(0)) revert ZeroAddress();
        feeBps = feeBps_;
        feeRecipient = feeRecipient_;
        emit FeeSet(feeBps_, feeRecipient_);
    }

    function _kind(uint256 hot) private pure returns (MeterKind) {
        return MeterKind(uint8(hot >> KIND_SHIFT));
    }

    function _max(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a : b;
    }
}
