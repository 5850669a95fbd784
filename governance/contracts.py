"""The governance contracts of a deployment (`Deployment.contracts` names), bound to web3, and a
transactor whose reverts name the governance errors too."""
from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from daisee.chain import Community, Transactor

MEMBERSHIP, GOVERNOR, TIMELOCK, RULES = "CommunityMembership", "CommunityGovernor", "CommunityTimelock", "CommunityRules"
NAMES = (MEMBERSHIP, GOVERNOR, TIMELOCK, RULES)
LEDGER = "PeriodLedger"


@dataclass(frozen=True)
class Governance:
    community: Community
    membership: Contract
    governor: Contract
    timelock: Contract
    rules: Contract

    @classmethod
    def open(cls, community: Community) -> "Governance":
        """KeyError naming the deployment when it has no governance contracts."""
        return cls(community, *(community.contract(name) for name in NAMES))

    @property
    def w3(self) -> Web3:
        return self.community.w3

    @property
    def exchange(self) -> Contract:
        return self.community.exchange

    @property
    def administered(self) -> list[Contract]:
        """What the timelock administers after the hand-over: the exchange, the membership, the rules and,
        when deployed, the period ledger (who may commit periods)."""
        extra = [self.community.contract(LEDGER)] if LEDGER in self.community.deployment.contracts else []
        return [self.exchange, self.membership, self.rules, *extra]

    def now(self) -> int:
        """The latest block's timestamp: the governor's clock (ERC-6372 timestamp mode)."""
        return self.w3.eth.get_block("latest")["timestamp"]

    def transactor(self, account: LocalAccount) -> Transactor:
        return Transactor(self.community, account)  # decodes every deployed contract's errors
