"""Handing the community from a single admin (the deployer) to its members' vote.

The exchange, the membership and the rules each keep their admin in OpenZeppelin's
AccessControlDefaultAdminRules: a two-step transfer, `beginDefaultAdminTransfer(new)` by the admin,
then `acceptDefaultAdminTransfer()` BY THE NEW ADMIN once the contract's admin delay has passed. The
new admin is the timelock, which only calls what it scheduled; so the hand-over is:

1. begin: the deployer begins the three transfers to the timelock and, as the timelock's own admin,
   makes itself a proposer and schedules the three accepts as one batch, ready after
   max(timelock delay, longest admin delay + 1 s);
2. complete: once ready, anyone executes the batch (the timelock accepts the three roles), and the
   deployer renounces the timelock roles it held (proposer, admin). From then on only a vote changes
   the fee, the timing, the pause's undoing, the membership's registrar and the rules.

`ape run deploy --governance` does step 1 at deployment; `daisee-governance handover` does whichever
step is due (both steps for a community kept `--single-admin` for a pilot).
"""
from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from daisee.chain import Transactor
from governance.contracts import Governance

SALT = Web3.keccak(text="DAISEE governance hand-over")
NO_PREDECESSOR = b"\x00" * 32
ACCEPT = bytes(Web3.keccak(text="acceptDefaultAdminTransfer()")[:4])
PROPOSER_ROLE = Web3.keccak(text="PROPOSER_ROLE")
DEFAULT_ADMIN_ROLE = b"\x00" * 32
UNSET, WAITING, READY, DONE = 0, 1, 2, 3  # TimelockController.OperationState


@dataclass(frozen=True)
class Batch:
    """The timelock batch that accepts the admin role of `targets`."""

    targets: list[str]
    delay: int

    @property
    def values(self) -> list[int]:
        return [0] * len(self.targets)

    @property
    def payloads(self) -> list[bytes]:
        return [ACCEPT] * len(self.targets)

    def args(self) -> tuple:
        """(targets, values, payloads, predecessor, salt): as hashOperationBatch/executeBatch take them."""
        return self.targets, self.values, self.payloads, NO_PREDECESSOR, SALT


def batch_for(targets: list[str], timelock_delay: int, admin_delays: list[int]) -> Batch:
    """The accept batch, ready once the timelock's delay and every contract's admin delay have passed
    (accepting needs the admin schedule strictly in the past: + 1 s)."""
    return Batch(list(targets), max([timelock_delay] + [d + 1 for d in admin_delays]))


class HandoverError(Exception):
    """A step that cannot be done now; the message says why and what to do."""


@dataclass(frozen=True)
class Handover:
    gov: Governance

    @property
    def administered(self):
        return self.gov.administered

    def batch(self) -> Batch:
        return batch_for([c.address for c in self.administered], self.gov.timelock.functions.getMinDelay().call(),
                         [c.functions.defaultAdminDelay().call() for c in self.administered])

    def operation_id(self, batch: Batch) -> bytes:
        return self.gov.timelock.functions.hashOperationBatch(*batch.args()).call()

    def state(self) -> tuple[str, int | None]:
        """("single-admin" | "scheduled" | "ready" | "done", ready_at)."""
        timelock = self.gov.timelock.address
        if all(c.functions.defaultAdmin().call() == timelock for c in self.administered):
            return "done", None
        pending = [c.functions.pendingDefaultAdmin().call()[0] for c in self.administered]
        if any(p != timelock for p in pending):
            return "single-admin", None
        op = self.operation_id(self.batch())
        state = self.gov.timelock.functions.getOperationState(op).call()
        ready_at = self.gov.timelock.functions.getTimestamp(op).call()
        if state == UNSET:
            return "single-admin", None  # transfers begun by hand, not scheduled: begin schedules them
        return ("ready" if state == READY else "scheduled"), ready_at

    def begin(self, tx: Transactor) -> int:
        """Step 1 by the current admin of the three contracts; returns when step 2 can run."""
        timelock = self.gov.timelock
        for contract in self.administered:
            if contract.functions.defaultAdmin().call() != tx.address:
                raise HandoverError(f"{tx.address} is not the admin of {contract.address}: only the admin hands over")
        if not timelock.functions.hasRole(DEFAULT_ADMIN_ROLE, tx.address).call():
            raise HandoverError(f"{tx.address} is not the timelock's admin: it cannot schedule the acceptance")
        for contract in self.administered:
            if contract.functions.pendingDefaultAdmin().call()[0] != timelock.address:
                tx.transact(contract.functions.beginDefaultAdminTransfer(timelock.address))
        if not timelock.functions.hasRole(PROPOSER_ROLE, tx.address).call():
            tx.transact(timelock.functions.grantRole(PROPOSER_ROLE, tx.address))
        batch = self.batch()
        tx.transact(timelock.functions.scheduleBatch(*batch.args(), batch.delay))
        return timelock.functions.getTimestamp(self.operation_id(batch)).call()

    def complete(self, tx: Transactor) -> None:
        """Step 2: the timelock accepts the three admin roles; `tx`'s key gives up its timelock roles."""
        state, ready_at = self.state()
        if state == "scheduled":
            raise HandoverError(f"timelock not elapsed: the hand-over can complete from {ready_at} "
                                f"(now {self.gov.now()})")
        if state == "single-admin":
            raise HandoverError("the hand-over has not begun: run it once to begin")
        timelock = self.gov.timelock
        if state == "ready":
            tx.transact(timelock.functions.executeBatch(*self.batch().args()))
        for role in (PROPOSER_ROLE, DEFAULT_ADMIN_ROLE):
            if timelock.functions.hasRole(role, tx.address).call():
                tx.transact(timelock.functions.renounceRole(role, tx.address))
