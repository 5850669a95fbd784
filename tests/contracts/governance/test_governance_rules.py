"""CommunityRules: versioned parameters, each change in force from a later period, never backwards."""
from calendar import timegm
from datetime import datetime, timezone

import ape
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.contracts.governance.conftest import UTC_OFFSET

STATIC, DYNAMIC_SIMPLE = 1, 2
SHARED = 1
SHARES = b"\x11" * 32
CONFORMITY = b"\x22" * 32


def rules_tuple(fee_bps=150, floor=10, cap=200, key=STATIC, shares=SHARES):
    return (key, SHARED, fee_bps, floor, cap, shares, CONFORMITY)


def period_after(period: int) -> int:
    return (period // 100 + 1) * 100 + 1 if period % 100 == 12 else period + 1


def utc(*fields) -> int:
    return timegm(fields + (0,) * (6 - len(fields)))


@pytest.mark.parametrize("timestamp, period", [
    (utc(1970, 1, 1), 197001),
    (utc(2024, 2, 29, 12), 202402),
    (utc(2026, 11, 30, 21, 59, 59), 202611),  # 23:59:59 at +2 h
    (utc(2026, 11, 30, 22), 202612),  # midnight at +2 h: December already
    (utc(2026, 12, 31, 22), 202701),  # and the year turns
    (utc(2100, 3, 1), 210003),  # 2100 is not a leap year
])
def test_periods_are_months_in_the_community_zone(rules, timestamp, period):
    assert rules.utcOffsetSeconds() == UTC_OFFSET
    assert rules.periodOf(timestamp) == period


def test_the_first_version_is_in_force_from_the_deployment_period(rules):
    current = rules.currentPeriod()
    assert rules.latestVersion() == 1
    assert rules.versionAt(current) == 1
    assert rules.version(1).effectiveFromPeriod == current
    assert rules.rulesAt(current).keyType == 0


def test_a_period_before_the_first_version_has_no_rules(rules):
    before = rules.currentPeriod() - 1 if rules.currentPeriod() % 100 != 1 else rules.currentPeriod() - 89
    assert rules.versionAt(before) == 0
    with ape.reverts(rules.CommunityRulesNoVersion, periodId=before):
        rules.rulesAt(before)


def test_a_change_takes_effect_from_the_next_period_only(rules, admin):
    current = rules.currentPeriod()
    tx = rules.setRules(rules_tuple(), 0, sender=admin)
    event = tx.events.filter(rules.RulesSet)[0]
    assert (event.version, event.effectiveFromPeriod) == (2, period_after(current))
    assert event.previous[2] == 0 and event.rules[2] == 150  # pmoFeeBps, old and new
    assert rules.versionAt(current) == 1 and rules.rulesAt(current).pmoFeeBps == 0
    assert rules.versionAt(period_after(current)) == 2 and rules.rulesAt(period_after(current)).pmoFeeBps == 150


def test_the_new_rules_are_in_force_once_the_next_month_starts(rules, admin, chain):
    rules.setRules(rules_tuple(), 0, sender=admin)
    next_period = period_after(rules.currentPeriod())
    year, month = divmod(next_period, 100)
    chain.pending_timestamp = utc(year, month, 1) - UTC_OFFSET  # local midnight of the 1st
    chain.mine()
    assert rules.currentPeriod() == next_period
    assert rules.rulesAt(rules.currentPeriod()).pmoFeeBps == 150


def test_a_change_cannot_apply_to_the_current_or_a_past_period(rules, admin):
    current = rules.currentPeriod()
    for period in (current, current - 1):
        with ape.reverts(rules.CommunityRulesPeriodNotFuture, periodId=period, currentPeriod=current):
            rules.setRules(rules_tuple(), period, sender=admin)


def test_a_change_cannot_come_before_one_already_scheduled(rules, admin):
    later = period_after(period_after(rules.currentPeriod()))
    rules.setRules(rules_tuple(), later, sender=admin)
    sooner = period_after(rules.currentPeriod())
    with ape.reverts(rules.CommunityRulesPeriodBeforeLast, periodId=sooner, lastEffectiveFromPeriod=later):
        rules.setRules(rules_tuple(), sooner, sender=admin)


def test_a_later_decision_for_the_same_period_supersedes(rules, admin):
    rules.setRules(rules_tuple(fee_bps=100), 0, sender=admin)
    rules.setRules(rules_tuple(fee_bps=200), 0, sender=admin)
    next_period = period_after(rules.currentPeriod())
    assert rules.versionAt(next_period) == 3
    assert rules.rulesAt(next_period).pmoFeeBps == 200
    assert rules.version(2)[0][2] == 100  # history kept (pmoFeeBps)


@pytest.mark.parametrize("period", [202613, 202600, 196912])
def test_a_period_must_be_a_month(rules, admin, period):
    with ape.reverts(rules.CommunityRulesInvalidPeriod, periodId=period):
        rules.setRules(rules_tuple(), period, sender=admin)


def test_the_pmo_fee_is_at_most_the_whole(rules, admin):
    with ape.reverts(rules.CommunityRulesFeeTooHigh, pmoFeeBps=10_001, maxBps=10_000):
        rules.setRules(rules_tuple(fee_bps=10_001), 0, sender=admin)


def test_the_price_floor_is_under_the_cap(rules, admin):
    with ape.reverts(rules.CommunityRulesFloorAboveCap, priceFloorPerKwh=201, priceCapPerKwh=200):
        rules.setRules(rules_tuple(floor=201, cap=200), 0, sender=admin)


def test_a_key_with_shares_needs_their_hash(rules, admin):
    with ape.reverts(rules.CommunityRulesMissingShares, keyType=DYNAMIC_SIMPLE):
        rules.setRules(rules_tuple(key=DYNAMIC_SIMPLE, shares=b"\x00" * 32), 0, sender=admin)


def test_an_unknown_version_is_refused(rules):
    with ape.reverts(rules.CommunityRulesUnknownVersion, version=2):
        rules.version(2)


def test_only_the_admin_sets_rules(rules, operator):
    with ape.reverts(rules.AccessControlUnauthorizedAccount, account=operator.address, neededRole=b"\x00" * 32):
        rules.setRules(rules_tuple(), 0, sender=operator)


def test_the_offset_is_a_real_zone(project, admin):
    with ape.reverts(project.CommunityRules.CommunityRulesInvalidOffset, offsetSeconds=14 * 3600 + 1):
        admin.deploy(project.CommunityRules, admin, 0, 14 * 3600 + 1, rules_tuple(key=0, shares=b"\x00" * 32))


@settings(max_examples=200, deadline=None)
@given(timestamp=st.integers(0, 253_402_300_799 - UTC_OFFSET))  # up to the end of year 9999
def test_periods_match_the_calendar(rules, timestamp):
    local = datetime.fromtimestamp(timestamp + UTC_OFFSET, timezone.utc)
    assert rules.periodOf(timestamp) == local.year * 100 + local.month
