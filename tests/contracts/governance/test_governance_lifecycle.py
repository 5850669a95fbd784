"""CommunityGovernor + timelock after the hand-over: proposals the members vote and the timelock runs."""
import ape
import pytest

from daisee.chain import CONSUMER
from tests.contracts.governance.conftest import (ABSTAIN, ACTIVE, AGAINST, DEFEATED, EXECUTED, FOR, PENDING,
                                                 QUEUED, SUCCEEDED, TIMELOCK_DELAY, VOTING_DELAY, VOTING_PERIOD)
from tests.contracts.governance.test_governance_rules import period_after, rules_tuple


@pytest.fixture
def fee_proposal(community, propose, market, fee_recipient):
    return propose([(market, "setFee", 42, fee_recipient)], sender=community[0])


def test_the_hand_over_leaves_the_timelock_sole_admin(handed_over, market, membership, rules, timelock, admin):
    for contract in (market, membership, rules):
        assert contract.defaultAdmin() == timelock.address
    assert not timelock.hasRole(timelock.PROPOSER_ROLE(), admin)
    assert not timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), admin)


def test_the_former_admin_no_longer_sets_the_fee(handed_over, market, admin, fee_recipient):
    with ape.reverts(market.AccessControlUnauthorizedAccount, account=admin.address, neededRole=b"\x00" * 32):
        market.setFee(42, fee_recipient, sender=admin)


def test_a_vote_changes_the_exchange_fee(fee_proposal, governor, market, community, travel):
    assert governor.state(fee_proposal.id) == PENDING
    travel(VOTING_DELAY + 1)
    assert governor.state(fee_proposal.id) == ACTIVE
    for member in community[:3]:
        governor.castVote(fee_proposal.id, FOR, sender=member)
    governor.castVote(fee_proposal.id, AGAINST, sender=community[3])
    travel(VOTING_PERIOD + 1)
    assert governor.state(fee_proposal.id) == SUCCEEDED
    governor.queue(*fee_proposal.args, sender=community[4])
    assert governor.state(fee_proposal.id) == QUEUED
    travel(TIMELOCK_DELAY + 1)
    governor.execute(*fee_proposal.args, sender=community[4])
    assert governor.state(fee_proposal.id) == EXECUTED
    assert market.feeBps() == 42


def test_a_vote_changes_a_collective_rule_from_the_next_period(community, propose, enact, rules):
    proposal = propose([(rules, "setRules", rules_tuple(), 0)], sender=community[1])
    enact(proposal, community[:2])
    current = rules.currentPeriod()
    assert rules.latestVersion() == 2
    assert rules.rulesAt(current).keyType == 0  # this month keeps the rules it started with
    assert rules.rulesAt(period_after(current)).keyType == 1


def test_a_vote_unpauses_what_the_guardian_paused(community, propose, enact, market, guardian):
    market.pause(sender=guardian)
    enact(propose([(market, "unpause")], sender=community[0]), community[:2])
    assert not market.paused()


def test_votes_are_one_per_member(fee_proposal, governor, community, travel):
    travel(VOTING_DELAY + 1)
    governor.castVote(fee_proposal.id, FOR, sender=community[0])
    governor.castVote(fee_proposal.id, ABSTAIN, sender=community[1])
    assert governor.proposalVotes(fee_proposal.id) == (0, 1, 1)  # against, for, abstain
    with ape.reverts(governor.GovernorAlreadyCastVote, voter=community[0].address):
        governor.castVote(fee_proposal.id, AGAINST, sender=community[0])


def test_a_non_member_cannot_vote(fee_proposal, governor, stranger, travel):
    travel(VOTING_DELAY + 1)
    with ape.reverts(governor.CommunityGovernorNotAMember, account=stranger.address,
                     snapshot=governor.proposalSnapshot(fee_proposal.id)):
        governor.castVote(fee_proposal.id, FOR, sender=stranger)


def test_a_non_member_cannot_propose(community, governor, market, stranger, fee_recipient):
    with ape.reverts(governor.GovernorInsufficientProposerVotes, proposer=stranger.address, votes=0, threshold=1):
        governor.propose([market.address], [0], [market.setFee.encode_input(1, fee_recipient)], "fee",
                         sender=stranger)


def test_a_burned_membership_cannot_vote_again_under_a_new_address(fee_proposal, governor, market, membership,
                                                                   community, enrol, operator, stranger, travel):
    leaving = community[0]
    travel(VOTING_DELAY + 1)
    governor.castVote(fee_proposal.id, FOR, sender=leaving)
    market.deactivateMeter(market.meterOf(leaving), sender=operator)  # burned
    enrol(stranger, CONSUMER)  # the same household under a new address: a new member, after the snapshot
    travel(1)
    assert membership.isMember(stranger)
    with ape.reverts(governor.CommunityGovernorNotAMember):
        governor.castVote(fee_proposal.id, FOR, sender=stranger)
    with ape.reverts(governor.GovernorAlreadyCastVote):
        governor.castVote(fee_proposal.id, FOR, sender=leaving)
    assert governor.proposalVotes(fee_proposal.id)[1] == 1


def test_a_membership_moved_by_transfer_cannot_vote_twice(fee_proposal, governor, membership, community, stranger,
                                                         travel):
    travel(VOTING_DELAY + 1)
    governor.castVote(fee_proposal.id, FOR, sender=community[0])
    with ape.reverts(membership.CommunityMembershipNonTransferable):
        membership.transferFrom(community[0], stranger, membership.tokenIdOf(community[0]), sender=community[0])
    with ape.reverts(governor.CommunityGovernorNotAMember):
        governor.castVote(fee_proposal.id, FOR, sender=stranger)


def test_voting_closes_at_the_deadline(fee_proposal, governor, community, travel):
    travel(VOTING_DELAY + VOTING_PERIOD + 2)
    with ape.reverts(governor.GovernorUnexpectedProposalState):
        governor.castVote(fee_proposal.id, FOR, sender=community[0])


def test_without_quorum_a_proposal_is_defeated(fee_proposal, governor, community, travel):
    travel(VOTING_DELAY + 1)
    governor.castVote(fee_proposal.id, FOR, sender=community[0])  # 1 of 5, quorum 40 % = 2
    travel(VOTING_PERIOD + 1)
    assert governor.state(fee_proposal.id) == DEFEATED
    with ape.reverts(governor.GovernorUnexpectedProposalState):
        governor.queue(*fee_proposal.args, sender=community[0])


def test_execution_waits_for_the_timelock(fee_proposal, governor, timelock, community, travel):
    travel(VOTING_DELAY + 1)
    for member in community[:2]:
        governor.castVote(fee_proposal.id, FOR, sender=member)
    travel(VOTING_PERIOD + 1)
    governor.queue(*fee_proposal.args, sender=community[0])
    with ape.reverts(timelock.TimelockUnexpectedOperationState):
        governor.execute(*fee_proposal.args, sender=community[0])


def test_only_the_governor_schedules_in_the_timelock(handed_over, timelock, market, stranger):
    with ape.reverts(timelock.AccessControlUnauthorizedAccount, account=stranger.address,
                     neededRole=timelock.PROPOSER_ROLE()):
        timelock.schedule(market.address, 0, market.unpause.encode_input(), b"\x00" * 32, b"\x00" * 32,
                          TIMELOCK_DELAY, sender=stranger)


def test_the_governor_settings_change_only_by_a_vote(governor, community):
    with ape.reverts(governor.GovernorOnlyExecutor, account=community[0].address):
        governor.setVotingPeriod(1, sender=community[0])


def test_the_governor_counts_time_in_seconds(governor, chain):
    assert governor.CLOCK_MODE() == "mode=timestamp"
    assert (governor.votingDelay(), governor.votingPeriod(), governor.proposalThreshold()) == (
        VOTING_DELAY, VOTING_PERIOD, 1)
