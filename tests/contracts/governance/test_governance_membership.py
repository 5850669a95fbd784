"""CommunityMembership: one member, one vote, minted and burned by the meter registry, never moved."""
import ape
import pytest

from daisee.chain import CONSUMER


@pytest.fixture
def member(accounts, admin, enrol, travel):
    """A new member (meter registered a second ago), with gas money."""
    account = accounts.generate_test_account()
    admin.transfer(account, 10**18)
    enrol(account, CONSUMER)
    travel(1)
    return account


def test_registering_a_meter_mints_a_vote_that_counts_at_once(deployed, membership, member):
    assert membership.isMember(member)
    assert membership.delegates(member) == member  # self-delegated at mint, no call of its own
    assert membership.getVotes(member) == 1
    assert membership.ownerOf(membership.tokenIdOf(member)) == member


def test_the_clock_is_a_timestamp(membership, chain):
    assert membership.CLOCK_MODE() == "mode=timestamp"
    assert membership.clock() == chain.blocks.head.timestamp


def test_a_membership_cannot_be_transferred(membership, member, stranger):
    token_id = membership.tokenIdOf(member)
    with ape.reverts(membership.CommunityMembershipNonTransferable, tokenId=token_id, **{"from": member.address},
                     to=stranger.address):
        membership.transferFrom(member, stranger, token_id, sender=member)


def test_a_membership_cannot_be_approved(membership, member, stranger):
    with ape.reverts(membership.CommunityMembershipNonTransferable):
        membership.approve(stranger, membership.tokenIdOf(member), sender=member)
    with ape.reverts(membership.CommunityMembershipNonTransferable):
        membership.setApprovalForAll(stranger, True, sender=member)


def test_a_vote_cannot_be_delegated(membership, member, stranger):
    with ape.reverts(membership.CommunityMembershipDelegationFixed, account=member.address):
        # (ape's ContractInstance has an attribute `delegate` of its own: call the method by name)
        membership.invoke_transaction("delegate", stranger, sender=member)


def test_deactivating_the_last_meter_burns_the_membership(market, membership, member, operator, travel):
    tx = market.deactivateMeter(market.meterOf(member), sender=operator)
    assert tx.events.filter(membership.MeterCountChanged)[0].meters == 0
    travel(1)
    assert not membership.isMember(member)
    assert membership.getVotes(member) == 0
    travel(1)
    assert membership.getPastTotalSupply(membership.clock() - 1) == 0


def test_replacing_a_meter_keeps_the_membership(market, membership, member, operator, oracle):
    market.replaceMeter(market.meterOf(member), oracle, sender=operator)
    assert membership.isMember(member)
    assert membership.metersOf(member) == 1


def test_a_member_with_two_meters_has_one_vote(membership, admin, member, travel):
    # the exchange gives a member one meter; another registrar (a second site's registry) adds one
    membership.grantRole(membership.REGISTRAR_ROLE(), admin, sender=admin)
    membership.join(member, sender=admin)
    travel(1)
    assert (membership.metersOf(member), membership.getVotes(member), membership.balanceOf(member)) == (2, 1, 1)
    membership.leave(member, sender=admin)
    assert membership.isMember(member)  # one active meter left
    membership.leave(member, sender=admin)
    assert not membership.isMember(member)


def test_only_the_registrar_mints_and_burns(membership, member, stranger):
    role = membership.REGISTRAR_ROLE()
    with ape.reverts(membership.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=role):
        membership.join(stranger, sender=stranger)
    with ape.reverts(membership.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=role):
        membership.leave(member, sender=stranger)


def test_joining_needs_an_address(membership, admin):
    membership.grantRole(membership.REGISTRAR_ROLE(), admin, sender=admin)
    with ape.reverts(membership.CommunityMembershipZeroAddress):
        membership.join(ape.utils.ZERO_ADDRESS, sender=admin)


def test_leaving_without_a_counted_meter_changes_nothing(membership, admin, stranger):
    membership.grantRole(membership.REGISTRAR_ROLE(), admin, sender=admin)
    tx = membership.leave(stranger, sender=admin)
    assert not tx.events
    assert membership.metersOf(stranger) == 0


def test_the_membership_is_wired_by_the_admin_only(market, membership, admin, operator):
    assert market.membership() == membership.address
    with ape.reverts(market.AccessControlUnauthorizedAccount):
        market.setMembership(ape.utils.ZERO_ADDRESS, sender=operator)
    tx = market.setMembership(ape.utils.ZERO_ADDRESS, sender=admin)
    assert (tx.events[0].previousMembership, tx.events[0].membership) == (membership.address, ape.utils.ZERO_ADDRESS)


def test_an_unwired_registry_registers_without_membership(market, membership, admin, enrol, stranger):
    market.setMembership(ape.utils.ZERO_ADDRESS, sender=admin)
    enrol(stranger, CONSUMER)
    assert not membership.isMember(stranger)
