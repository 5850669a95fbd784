// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title DAISEE collective self-consumption rules, versioned by period
/// @notice The parameters the members vote and the PMO's pipeline (collective/) applies: allocation
/// key type, the hash of the static shares, the local price floor and cap, the PMO fee, the surplus
/// policy and the hash of the conformity thresholds. Every change is a new version that takes effect
/// from a later period than the current one, never backwards; the history stays readable, so the
/// pipeline asks `rulesAt(periodId)` for the version in force in the period it settles.
/// @dev A period is a calendar month named YYYYMM (202611 = November 2026), in the community's time
/// zone given as a fixed offset (the largest of the year: the contract then sees a new month start no
/// later than the members do).
interface ICommunityRules {
    /// @notice The allocation keys of collective/allocate.py, in that module's names.
    enum KeyType {
        DefaultDynamic,
        Static,
        DynamicSimple,
        FullDynamic,
        Priority
    }

    /// @notice What happens to local production no member consumes.
    enum SurplusPolicy {
        SoldToSupplier, // sold on by the PMO under its purchase contract
        SharedAmongMembers, // its proceeds shared among the members
        Unvalued // injected without payment
    }

    struct Rules {
        KeyType keyType;
        SurplusPolicy surplusPolicy;
        /// @dev PMO fee on local energy, basis points (<= 10 000).
        uint16 pmoFeeBps;
        /// @dev Local price bounds, token base units per kWh (floor <= cap).
        uint96 priceFloorPerKwh;
        uint96 priceCapPerKwh;
        /// @dev keccak256 of the α vector (see governance/rules.py `shares_hash`); zero for DefaultDynamic.
        bytes32 sharesHash;
        /// @dev keccak256 of the conformity thresholds document (governance/rules.py `conformity_hash`).
        bytes32 conformityHash;
    }

    /// @notice Version `version` of the rules, in force from `effectiveFromPeriod` (YYYYMM) on;
    /// `previous` are the rules of version `version - 1` (all zero for the first).
    event RulesSet(uint32 indexed version, uint32 indexed effectiveFromPeriod, Rules previous, Rules rules);

    error CommunityRulesInvalidPeriod(uint32 periodId);
    error CommunityRulesPeriodNotFuture(uint32 periodId, uint32 currentPeriod);
    error CommunityRulesPeriodBeforeLast(uint32 periodId, uint32 lastEffectiveFromPeriod);
    error CommunityRulesNoVersion(uint32 periodId);
    error CommunityRulesUnknownVersion(uint32 version);
    error CommunityRulesFeeTooHigh(uint16 pmoFeeBps, uint16 maxBps);
    error CommunityRulesFloorAboveCap(uint96 priceFloorPerKwh, uint96 priceCapPerKwh);
    error CommunityRulesMissingShares(KeyType keyType);
    error CommunityRulesInvalidOffset(int32 offsetSeconds);

    /// @notice Record new rules in force from `effectiveFromPeriod` (YYYYMM, after the current period
    /// and not before the latest version's; 0 = the next period). Returns the new version number.
    function setRules(Rules calldata rules, uint32 effectiveFromPeriod) external returns (uint32 newVersion);

    /// @notice The version in force in `periodId` (0 if none: a period before the first version).
    function versionAt(uint32 periodId) external view returns (uint32);

    /// @notice The rules in force in `periodId`; reverts for a period before the first version.
    function rulesAt(uint32 periodId) external view returns (Rules memory);

    /// @notice Rules and first period of version `version` (1-based).
    function version(uint32 version_) external view returns (Rules memory rules, uint32 effectiveFromPeriod);

    /// @notice Number of versions recorded.
    function latestVersion() external view returns (uint32);

    /// @notice The period (YYYYMM) of `timestamp` in the community's time zone.
    function periodOf(uint256 timestamp) external view returns (uint32);

    /// @notice The period now.
    function currentPeriod() external view returns (uint32);
}
