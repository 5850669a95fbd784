"""End-to-end fixtures: a fresh anvil per community run (the fault tests restart it), the contracts
deployed by `ape run deploy`, a small community set up by the operator, and the simulation driving
the real oracle and relay services on it."""
from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from daisee.chain import CONSUMER, PRODUCER, Community
from simulation.community import Member, establish, plan_community
from simulation.world import LOCAL_UTC_OFFSET_H, Simulation
from tests.support.anvil import AnvilNode, dev_account

SEED = 7


@dataclass
class Run:
    node: AnvilNode
    sim: Simulation
    members: list[Member]
    first_block: int  # the simulation's first block

    @property
    def community(self) -> Community:
        return self.sim.community

    @property
    def producer(self) -> Member:
        return next(m for m in self.members if m.plan.kind == PRODUCER)

    @property
    def consumer(self) -> Member:
        return next(m for m in self.members if m.plan.kind == CONSUMER)

    def balance(self, address: str) -> int:
        """A member's balance in the exchange (where purchases are paid from and settled to)."""
        return self.community.exchange.functions.balanceOf(address).call()

    def wallet(self, address: str) -> int:
        return self.community.token.functions.balanceOf(address).call()

    def fees(self) -> int:
        return self.community.exchange.functions.feesAccrued().call()

    def events(self, name: str, from_block: int = 0) -> list[dict]:
        ex = self.community.exchange
        logs = ex.events[name]().get_logs(from_block=max(from_block, self.community.deployment.deployed_block))
        return [dict(log["args"]) for log in logs]


@pytest.fixture(scope="session")
def start_time() -> int:
    """One start for every run of the session (10:00 local, the day after tomorrow: ahead of every
    fresh anvil's clock), so that all runs meet the same sun and the same weather."""
    day = 86_400
    local = time.time() + LOCAL_UTC_OFFSET_H * 3600
    return int(local - local % day + 2 * day + 10 * 3600 - LOCAL_UTC_OFFSET_H * 3600)


@pytest.fixture
def community_run(tmp_path_factory):
    """Factory: a fresh node + deployment + 2-member community (1 producer, 1 consumer) + simulation."""
    runs: list[Run] = []

    def make(start: int) -> Run:
        workdir = tmp_path_factory.mktemp("e2e")
        node = AnvilNode(workdir / "anvil").start()
        chain = node.settings(node.deploy(workdir / "local.json"))
        plan = plan_community(2, SEED)
        members = establish(Community.open(chain), dev_account(0), plan)
        sim = Simulation(chain, plan, members, workdir / "run", parallel=1)
        first_block = sim.community.w3.eth.block_number + 1  # set-up done: members configure in parallel
        sim.begin(start)
        run = Run(node, sim, members, first_block)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.sim.close()
        run.node.stop(hard=True)
