"""`daisee-governance` on a real anvil: the life cycle of a proposal, and each refusal in words."""
from pathlib import Path

from tests.governance.conftest import TIMELOCK_DELAY, VOTING_DELAY, VOTING_PERIOD


def pass_vote(chain, proposal_id, voters=("alice", "bob")):
    chain.travel(VOTING_DELAY + 1)
    for voter in voters:
        chain.ok("vote", proposal_id, "for", account=voter)
    chain.travel(VOTING_PERIOD + 1)


def test_the_deploy_hands_the_community_to_the_timelock(governed):
    timelock = governed.gov.timelock.address
    for contract in (governed.gov.exchange, governed.gov.membership, governed.gov.rules):
        assert contract.functions.defaultAdmin().call() == timelock
    assert "handed over" in governed.ok("handover", account="deployer")  # again: nothing left to do


def test_a_proposal_changes_the_fee_through_its_whole_life(governed, fee_proposal):
    pass_vote(governed, fee_proposal)
    assert "queued" in governed.ok("queue", fee_proposal, account="carol")
    governed.travel(TIMELOCK_DELAY + 1)
    governed.ok("execute", fee_proposal, account="carol")
    assert governed.gov.exchange.functions.feeBps().call() == 42
    status = governed.ok("status", fee_proposal)
    assert "Executed" in status and "2 for, 0 against" in status and "EnergyExchange.setFee(feeBps_=42" in status


def test_a_proposal_sets_the_rules_of_the_next_month(governed, tmp_path: Path):
    shares = tmp_path / "shares.json"
    shares.write_text('{"PRM-1": 0.6, "PRM-2": 0.4}')
    proposal_id = governed.ok("propose", "rules", "--key", "static", "--shares", str(shares), "--price-cap", "0.25",
                              "--description", "static key", account="bob").strip()
    pass_vote(governed, proposal_id)
    governed.ok("queue", proposal_id, account="bob")
    governed.travel(TIMELOCK_DELAY + 1)
    governed.ok("execute", proposal_id, account="bob")
    assert "key: default-dynamic" in governed.ok("rules")  # this month unchanged
    current = governed.gov.rules.functions.currentPeriod().call()
    following = (current // 100 + 1) * 100 + 1 if current % 100 == 12 else current + 1
    shown = governed.ok("rules", "--period", str(following))
    assert "key: static" in shown and "price_cap_per_kwh: 0.25" in shown


def test_a_non_member_cannot_propose(governed):
    assert "not a member" in governed.refused("propose", "unpause", "--description", "x", account="stranger")


def test_a_non_member_cannot_vote(governed, fee_proposal):
    governed.travel(VOTING_DELAY + 1)
    assert "not a member" in governed.refused("vote", fee_proposal, "for", account="stranger")


def test_voting_waits_for_the_opening(governed, fee_proposal):
    assert "voting not open yet" in governed.refused("vote", fee_proposal, "for", account="bob")


def test_voting_closes(governed, fee_proposal):
    governed.travel(VOTING_DELAY + VOTING_PERIOD + 2)
    assert "voting closed" in governed.refused("vote", fee_proposal, "for", account="bob")


def test_a_member_votes_once(governed, fee_proposal):
    governed.travel(VOTING_DELAY + 1)
    governed.ok("vote", fee_proposal, "against", account="bob")
    assert "already voted" in governed.refused("vote", fee_proposal, "for", account="bob")


def test_queueing_needs_the_vote_closed(governed, fee_proposal):
    assert "voting still open" in governed.refused("queue", fee_proposal, account="alice")


def test_queueing_needs_the_quorum(governed, fee_proposal):
    pass_vote(governed, fee_proposal, voters=("alice",))  # 1 of 3 members, quorum 67 % (2)
    assert "quorum not reached: 1 of the" in governed.refused("queue", fee_proposal, account="alice")


def test_execution_waits_for_the_timelock(governed, fee_proposal):
    pass_vote(governed, fee_proposal)
    governed.ok("queue", fee_proposal, account="alice")
    assert "timelock not elapsed" in governed.refused("execute", fee_proposal, account="alice")


def test_an_unknown_proposal_is_named(governed):
    assert "no proposal 12345" in governed.refused("status", "12345")


def test_a_pilot_keeps_its_admin_until_it_hands_over(pilot):
    exchange, timelock = pilot.gov.exchange, pilot.gov.timelock.address
    deployer = exchange.functions.defaultAdmin().call()
    assert "hand-over begun" in pilot.ok("handover", account="deployer")
    assert exchange.functions.defaultAdmin().call() == deployer  # until the timelock accepts
    assert "timelock not elapsed" in pilot.refused("handover", account="deployer")
    pilot.travel(TIMELOCK_DELAY + 1)
    pilot.ok("handover", account="deployer")
    assert exchange.functions.defaultAdmin().call() == timelock


def test_only_the_admin_hands_over(pilot):
    assert "is not the admin" in pilot.refused("handover", account="alice")


def test_a_month_before_the_first_rules_is_named(governed):
    assert "no rules in force in 200001" in governed.refused("rules", "--period", "200001")
