// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";

import {ICommunityRules} from "../../interfaces/ICommunityRules.sol";
import {Periods} from "../libraries/Periods.sol";

/// @title DAISEE collective self-consumption rules
/// @notice See ICommunityRules. DEFAULT_ADMIN_ROLE (the governance timelock after hand-over) sets
/// new versions; nobody can change a version once recorded, nor one in force.
/// @dev Versions are appended in order of `effectiveFromPeriod` (equal allowed: a later decision for
/// the same period supersedes an earlier one), so `versionAt` is a binary search over them.
contract CommunityRules is ICommunityRules, AccessControlDefaultAdminRules {
    uint16 public constant MAX_BPS = 10_000;
    int32 public constant MAX_OFFSET = 14 hours;

    /// @notice The community's UTC offset in seconds used to cut months (Europe/Paris: +7200, its
    /// summer offset, so that a month never starts on chain after it started locally).
    int32 public immutable utcOffsetSeconds;

    struct Version {
        Rules rules;
        uint32 effectiveFromPeriod;
    }

    Version[] private _versions;

    /// @param admin Holds DEFAULT_ADMIN_ROLE (sets rules): the timelock after hand-over.
    /// @param adminDelay Seconds a new admin waits before accepting the role.
    /// @param utcOffsetSeconds_ See `utcOffsetSeconds`.
    /// @param initial Version 1, in force from the period of deployment on.
    constructor(address admin, uint48 adminDelay, int32 utcOffsetSeconds_, Rules memory initial)
        AccessControlDefaultAdminRules(adminDelay, admin)
    {
        if (utcOffsetSeconds_ > MAX_OFFSET || utcOffsetSeconds_ < -MAX_OFFSET) {
            revert CommunityRulesInvalidOffset(utcOffsetSeconds_);
        }
        utcOffsetSeconds = utcOffsetSeconds_;
        _record(initial, periodOf(block.timestamp));
    }

    /// @inheritdoc ICommunityRules
    function setRules(Rules calldata rules, uint32 effectiveFromPeriod)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        returns (uint32)
    {
        uint32 current = periodOf(block.timestamp);
        if (effectiveFromPeriod == 0) {
            effectiveFromPeriod = _next(current);
        } else if (!_valid(effectiveFromPeriod)) {
            revert CommunityRulesInvalidPeriod(effectiveFromPeriod);
        }
        if (effectiveFromPeriod <= current) revert CommunityRulesPeriodNotFuture(effectiveFromPeriod, current);
        uint32 last = _versions[_versions.length - 1].effectiveFromPeriod;
        if (effectiveFromPeriod < last) revert CommunityRulesPeriodBeforeLast(effectiveFromPeriod, last);
        return _record(rules, effectiveFromPeriod);
    }

    // ------------------------------------------------------------ views

    /// @inheritdoc ICommunityRules
    function versionAt(uint32 periodId) public view returns (uint32) {
        // the number of versions whose first period is <= periodId: the last of them is in force
        uint256 low;
        uint256 high = _versions.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (_versions[mid].effectiveFromPeriod > periodId) high = mid;
            else low = mid + 1;
        }
        return uint32(low); // <= number of versions, which `_record` keeps within uint32
    }

    /// @inheritdoc ICommunityRules
    function rulesAt(uint32 periodId) external view returns (Rules memory) {
        uint32 v = versionAt(periodId);
        if (v == 0) revert CommunityRulesNoVersion(periodId);
        return _versions[v - 1].rules;
    }

    /// @inheritdoc ICommunityRules
    function version(uint32 version_) external view returns (Rules memory rules, uint32 effectiveFromPeriod) {
        if (version_ == 0 || version_ > _versions.length) revert CommunityRulesUnknownVersion(version_);
        Version storage v = _versions[version_ - 1];
        return (v.rules, v.effectiveFromPeriod);
    }

    /// @inheritdoc ICommunityRules
    function latestVersion() external view returns (uint32) {
        return uint32(_versions.length);
    }

    /// @inheritdoc ICommunityRules
    function currentPeriod() external view returns (uint32) {
        return periodOf(block.timestamp);
    }

    /// @inheritdoc ICommunityRules
    /// @dev The month of the timestamp shifted by the offset (Periods: days to civil date).
    function periodOf(uint256 timestamp) public view returns (uint32) {
        return Periods.ofTimestamp(uint256(int256(timestamp) + utcOffsetSeconds)); // a timestamp is >= 14 h in on every chain
    }

    // ------------------------------------------------------------ internals

    function _record(Rules memory rules, uint32 effectiveFromPeriod) private returns (uint32 v) {
        if (rules.pmoFeeBps > MAX_BPS) revert CommunityRulesFeeTooHigh(rules.pmoFeeBps, MAX_BPS);
        if (rules.priceFloorPerKwh > rules.priceCapPerKwh) {
            revert CommunityRulesFloorAboveCap(rules.priceFloorPerKwh, rules.priceCapPerKwh);
        }
        if (rules.keyType != KeyType.DefaultDynamic && rules.sharesHash == bytes32(0)) {
            revert CommunityRulesMissingShares(rules.keyType);
        }
        uint256 count = _versions.length;
        Rules memory previous;
        if (count != 0) previous = _versions[count - 1].rules;
        _versions.push(Version({rules: rules, effectiveFromPeriod: effectiveFromPeriod}));
        v = uint32(count + 1); // one version a transaction: never near 2^32
        emit RulesSet(v, effectiveFromPeriod, previous, rules);
    }

    function _next(uint32 periodId) private pure returns (uint32) {
        return periodId % 100 == 12 ? (periodId / 100 + 1) * 100 + 1 : periodId + 1;
    }

    function _valid(uint32 periodId) private pure returns (bool) {
        uint32 month = periodId % 100;
        return month >= 1 && month <= 12 && periodId >= 197_001;
    }
}
