"""Governance fixtures (ape): the contracts as `ape run deploy` deploys and wires them
(scripts/deploy.py `deploy_governance`), a community handed over to its timelock, members, and a
helper that takes a proposal through its life cycle. Delays are short; time moves with
`chain.pending_timestamp`.

Module-scoped, on an exchange of their own (`market`, and `enrol` to register its meters): the
hand-over changes who administers the exchange, which must not leak into the other suites' one
(and ape's isolation keeps fixtures apart by name: no override of the shared `exchange`)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from daisee.chain import CONSUMER, PROSUMER, Deployment
from governance.handover import batch_for
from tests.contracts.conftest import ADMIN_DELAY, new_exchange, registrar

TIMELOCK_DELAY = 600
VOTING_DELAY = 60
VOTING_PERIOD = 3_600
QUORUM_PERCENT = 40
UTC_OFFSET = 7_200
FOR, AGAINST, ABSTAIN = 1, 0, 2
# Governor.ProposalState
PENDING, ACTIVE, CANCELED, DEFEATED, SUCCEEDED, QUEUED, EXPIRED, EXECUTED = range(8)


@pytest.fixture(scope="module")
def market(project, admin, token, operator, fee_recipient):
    """This module's own EnergyExchange."""
    return new_exchange(project, admin, token, operator, fee_recipient)


@pytest.fixture(scope="module")
def enrol(market, operator, oracle):
    """enrol(owner, kind) -> meter id (a meter on this module's exchange)"""
    return registrar(market, operator, oracle)


@pytest.fixture(scope="module")
def guardian(accounts):
    return accounts[8]


@pytest.fixture(scope="module")
def members(accounts, admin):
    """Five members (meters registered by the fixtures that need them), with gas money."""
    generated = [accounts.generate_test_account() for _ in range(5)]
    for member in generated:
        admin.transfer(member, 10**18)
    return generated


@pytest.fixture(scope="module")
def deployed(project, admin, token, market, guardian):
    """scripts/deploy.py's governance on the test exchange, hand-over begun; name -> contract."""
    from scripts.deploy import deploy_governance

    deployment = Deployment(network="test", chain_id=0, deployed_block=0, token=token.address,
                            exchange=market.address, abi={})
    deploy_governance(admin, deployment, guardian.address, ADMIN_DELAY, TIMELOCK_DELAY, VOTING_DELAY,
                      VOTING_PERIOD, QUORUM_PERCENT, UTC_OFFSET, hand_over=True)
    return {name: getattr(project, name).at(address) for name, address in deployment.contracts.items()}


@pytest.fixture(scope="module")
def membership(deployed):
    return deployed["CommunityMembership"]


@pytest.fixture(scope="module")
def timelock(deployed):
    return deployed["CommunityTimelock"]


@pytest.fixture(scope="module")
def governor(deployed):
    return deployed["CommunityGovernor"]


@pytest.fixture(scope="module")
def rules(deployed):
    return deployed["CommunityRules"]


@pytest.fixture(scope="module")
def travel(chain):
    """travel(seconds): the next block is `seconds` later (one block mined)."""

    def travel(seconds: int) -> None:
        chain.pending_timestamp += seconds
        chain.mine()

    return travel


@pytest.fixture(scope="module")
def handed_over(deployed, market, membership, rules, timelock, admin, travel):
    """Step 2 of the hand-over: the timelock now admins the exchange, the membership and the rules;
    the deployer keeps no timelock role."""
    administered = [market, membership, rules]
    batch = batch_for([c.address for c in administered], TIMELOCK_DELAY, [ADMIN_DELAY] * 3)
    travel(batch.delay + 1)
    timelock.executeBatch(*batch.args(), sender=admin)
    timelock.renounceRole(timelock.PROPOSER_ROLE(), admin, sender=admin)
    timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), admin, sender=admin)
    return timelock


@pytest.fixture(scope="module")
def community(handed_over, enrol, members, travel):
    """Five members with a meter each (so five votes), one second later (votes count from the next second)."""
    for i, member in enumerate(members):
        enrol(member, PROSUMER if i % 2 else CONSUMER)
    travel(1)
    return members


@dataclass
class Proposal:
    id: int
    targets: list
    values: list
    calldatas: list
    description: str

    @property
    def args(self):
        from eth_utils import keccak

        return self.targets, self.values, self.calldatas, keccak(text=self.description)


@pytest.fixture(scope="module")
def propose(governor):
    """propose([(contract, "method", args...)], description, sender) -> Proposal"""
    counter = iter(range(10**6))

    def propose(actions, sender, description=None):
        description = description or f"proposal {next(counter)}"
        targets = [contract.address for contract, *_ in actions]
        calldatas = [getattr(contract, name).encode_input(*args) for contract, name, *args in actions]
        tx = governor.propose(targets, [0] * len(actions), calldatas, description, sender=sender)
        proposal_id = tx.events.filter(governor.ProposalCreated)[0].proposalId
        return Proposal(proposal_id, targets, [0] * len(actions), calldatas, description)

    return propose


@pytest.fixture(scope="module")
def enact(governor, travel):
    """enact(proposal, voters): every voter votes for, then queue and execute after the delays."""

    def enact(proposal, voters):
        travel(VOTING_DELAY + 1)
        for voter in voters:
            governor.castVote(proposal.id, FOR, sender=voter)
        travel(VOTING_PERIOD + 1)
        governor.queue(*proposal.args, sender=voters[0])
        travel(TIMELOCK_DELAY + 1)
        return governor.execute(*proposal.args, sender=voters[0])

    return enact
