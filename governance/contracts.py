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
        deployment, w3 = community.deployment, community.w3

        def bind(name: str) -> Contract:
            return w3.eth.contract(address=Web3.to_checksum_address(deployment.address_of(name)),
                                   abi=deployment.abi[name])

        return cls(community, *(bind(name) for name in NAMES))

    @property
    def w3(self) -> Web3:
        return self.community.w3

    @property
    def exchange(self) -> Contract:
        return self.community.exchange

    def now(self) -> int:
        """The latest block's timestamp: the governor's clock (ERC-6372 timestamp mode)."""
        return self.w3.eth.get_block("latest")["timestamp"]

    def transactor(self, account: LocalAccount) -> Transactor:
        return Transactor(self.community, account,
                          contracts=(self.membership, self.governor, self.timelock, self.rules))
