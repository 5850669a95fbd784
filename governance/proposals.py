"""Proposals of the CommunityGovernor: encode them, read them back from their events, and take them
through vote, queue and execute with the reason in words when a step cannot be done now."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from web3 import Web3
from web3.contract import Contract

from daisee.chain import Transactor
from governance.contracts import Governance

STATES = ("Pending", "Active", "Canceled", "Defeated", "Succeeded", "Queued", "Expired", "Executed")
PENDING, ACTIVE, CANCELED, DEFEATED, SUCCEEDED, QUEUED, EXPIRED, EXECUTED = range(8)
SUPPORT = {"against": 0, "for": 1, "abstain": 2}


class GovernanceError(Exception):
    """A step that cannot be done now; the message says why."""


def when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Action:
    """One call a proposal makes."""

    target: Contract
    function: str
    args: tuple = ()

    @property
    def calldata(self) -> bytes:
        return bytes.fromhex(self.target.encode_abi(self.function, args=list(self.args)).removeprefix("0x"))


@dataclass(frozen=True)
class Proposal:
    id: int
    proposer: str
    targets: list[str]
    values: list[int]
    calldatas: list[bytes]
    description: str
    vote_start: int
    vote_end: int

    @property
    def description_hash(self) -> bytes:
        return bytes(Web3.keccak(text=self.description))

    def args(self) -> tuple:
        """(targets, values, calldatas, descriptionHash): as queue and execute take them."""
        return self.targets, self.values, self.calldatas, self.description_hash


@dataclass(frozen=True)
class Tally:
    proposal: Proposal
    state: str
    against: int
    for_: int
    abstain: int
    quorum: int
    eta: int  # 0 until queued


def proposals(gov: Governance) -> list[Proposal]:
    """Every proposal since the deployment, oldest first (from ProposalCreated events)."""
    logs = gov.governor.events.ProposalCreated().get_logs(from_block=gov.community.deployment.deployed_block)
    return [Proposal(a["proposalId"], a["proposer"], list(a["targets"]), list(a["values"]),
                     [bytes(c) for c in a["calldatas"]], a["description"], a["voteStart"], a["voteEnd"])
            for a in (log["args"] for log in logs)]


def find(gov: Governance, proposal_id: int) -> Proposal:
    for proposal in proposals(gov):
        if proposal.id == proposal_id:
            return proposal
    raise GovernanceError(f"no proposal {proposal_id} on this governor")


def tally(gov: Governance, proposal: Proposal) -> Tally:
    g = gov.governor.functions
    against, for_, abstain = g.proposalVotes(proposal.id).call()
    snapshot = g.proposalSnapshot(proposal.id).call()
    quorum = g.quorum(snapshot).call() if snapshot < gov.now() else 0
    return Tally(proposal, STATES[g.state(proposal.id).call()], against, for_, abstain, quorum,
                 g.proposalEta(proposal.id).call())


def describe(gov: Governance, proposal: Proposal) -> list[str]:
    """Each call of `proposal` in words: contract name, function and arguments."""
    by_address = {c.address: (name, c) for name, c in (
        ("EnergyExchange", gov.exchange), ("CommunityRules", gov.rules), ("CommunityMembership", gov.membership),
        ("CommunityGovernor", gov.governor), ("CommunityTimelock", gov.timelock))}
    lines = []
    for target, data in zip(proposal.targets, proposal.calldatas):
        name, contract = by_address.get(Web3.to_checksum_address(target), (target, None))
        try:
            fn, args = contract.decode_function_input(data)
            lines.append(f"{name}.{fn.fn_name}({', '.join(f'{k}={v}' for k, v in args.items())})")
        except Exception:  # noqa: BLE001 - an unknown target or selector is shown raw
            lines.append(f"{name} 0x{data.hex()}")
    return lines


def _closed(gov: Governance, proposal_id: int, expected: str) -> tuple[Proposal, Tally]:
    """The proposal and its tally when its state is `expected`; else why not, in words."""
    proposal = find(gov, proposal_id)
    t = tally(gov, proposal)
    if t.state == expected:
        return proposal, t
    if t.state in ("Pending", "Active"):
        raise GovernanceError(f"voting still open until {when(proposal.vote_end)}")
    if t.state == "Defeated":
        if t.for_ + t.abstain < t.quorum:
            raise GovernanceError(f"quorum not reached: {t.for_ + t.abstain} of the {t.quorum} votes needed "
                                  f"(for + abstain)")
        raise GovernanceError(f"rejected: {t.for_} for, {t.against} against")
    if t.state == "Queued":
        raise GovernanceError(f"already queued: executable from {when(t.eta)}")
    if t.state == "Succeeded":
        raise GovernanceError(f"not queued yet: daisee-governance queue {proposal_id}")
    raise GovernanceError(f"the proposal is {t.state}")


def propose(gov: Governance, tx: Transactor, actions: list[Action], description: str) -> int:
    """Submit `actions`; returns the proposal id."""
    if not actions:
        raise GovernanceError("a proposal needs at least one action")
    if not gov.membership.functions.isMember(tx.address).call():
        raise GovernanceError(f"{tx.address} is not a member: only members propose")
    targets = [a.target.address for a in actions]
    calldatas = [a.calldata for a in actions]
    values = [0] * len(actions)
    proposal_id = gov.governor.functions.hashProposal(targets, values, calldatas,
                                                      Web3.keccak(text=description)).call()
    tx.transact(gov.governor.functions.propose(targets, values, calldatas, description))
    return proposal_id


def vote(gov: Governance, tx: Transactor, proposal_id: int, support: str, reason: str = "") -> int:
    """Cast `support` ("for", "against", "abstain"); returns the weight counted (1)."""
    find(gov, proposal_id)
    g = gov.governor.functions
    state = g.state(proposal_id).call()
    snapshot = g.proposalSnapshot(proposal_id).call()
    if state == PENDING:
        raise GovernanceError(f"voting not open yet: it opens after {when(snapshot)}")
    if state != ACTIVE:
        raise GovernanceError(f"voting closed: the proposal is {STATES[state]}")
    if g.getVotes(tx.address, snapshot).call() == 0:
        raise GovernanceError(f"{tx.address} is not a member: it held no membership at the proposal's snapshot "
                              f"({when(snapshot)})")
    if g.hasVoted(proposal_id, tx.address).call():
        raise GovernanceError(f"{tx.address} has already voted on this proposal")
    fn = g.castVoteWithReason(proposal_id, SUPPORT[support], reason) if reason else g.castVote(proposal_id,
                                                                                                SUPPORT[support])
    tx.transact(fn)
    return 1


def queue(gov: Governance, tx: Transactor, proposal_id: int) -> int:
    """Queue a passed proposal in the timelock; returns when it can be executed."""
    proposal, _ = _closed(gov, proposal_id, "Succeeded")
    tx.transact(gov.governor.functions.queue(*proposal.args()))
    return gov.governor.functions.proposalEta(proposal_id).call()


def execute(gov: Governance, tx: Transactor, proposal_id: int) -> None:
    """Run a queued proposal whose timelock delay has passed."""
    proposal, t = _closed(gov, proposal_id, "Queued")
    now = gov.now()
    if t.eta > now:
        raise GovernanceError(f"timelock not elapsed: executable from {when(t.eta)} (chain time {when(now)})")
    tx.transact(gov.governor.functions.execute(*proposal.args()))
