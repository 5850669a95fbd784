"""The community running: the real oracle and relay services, driven step by step on simulated time.

Each step moves time on by `step` seconds (on a dev chain the simulation sets the chain's clock; on a
real chain it waits for it), every oracle samples its simulated meters and submits until its queue
is empty, then every street's relay follows the chain to its head. That barrier is what makes a run
reproducible: a fault (node, oracle or relay restarted) delays a step but never changes what the
contracts decide, which the end-to-end tests check.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from daisee.chain import CONSUMER, Community
from daisee.config import ChainSettings
from daisee.files import read_json
from oracle.clock import ManualClock
from oracle.service import Oracle
from oracle.settings import OracleSettings
from relay.config import RelaySettings
from relay.service import ChainUnreadable, Relay
from simulation.community import Member, Plan, dev_chain

DAY = 86_400
LOCAL_UTC_OFFSET_H = 1.0  # the simulated households' time zone (the drivers' default)


class Stalled(RuntimeError):
    """A service could not catch up within the barrier's time limit."""


class SimulatedTime:
    """Time of the simulated world. On a dev chain the simulation owns the chain's clock (each step
    mines a block at the step's time); on a real chain it follows the chain's own blocks."""

    def __init__(self, community: Community, step: float, controls_chain: bool | None = None):
        self.w3, self.step = community.w3, step
        self.controls_chain = dev_chain(self.w3) if controls_chain is None else controls_chain
        self.clock = ManualClock(self.latest())

    @property
    def now(self) -> float:
        return self.clock.now()

    def latest(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def begin(self, start: int | None = None) -> None:
        """Start at `start`, or on a dev chain at the households' next 06:00 (sunrise, batteries
        as the night left them): the day's purchases then follow the sun, not the test's wall clock."""
        if not self.controls_chain:
            self._set(self.latest())
            return
        if start is None:
            local = self.latest() + LOCAL_UTC_OFFSET_H * 3600
            start = int(local - local % DAY + 6 * 3600 - LOCAL_UTC_OFFSET_H * 3600)
            start += DAY if start <= self.latest() else 0
        self._mine_at(start)
        self._set(start)

    def advance(self) -> None:
        target = self.now + self.step
        if self.controls_chain:
            self._mine_at(target)
        else:
            while self.latest() < target:
                time.sleep(1.0)
            target = self.latest()
        self._set(target)

    def resync(self) -> None:
        """A restarted dev node forgets the time it was set to: give it back the world's time."""
        if self.controls_chain and self.latest() < self.now:
            self._mine_at(self.now)

    def _mine_at(self, timestamp: float) -> None:
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [int(timestamp)])
        self.w3.provider.make_request("evm_mine", [])

    def _set(self, timestamp: float) -> None:
        self.clock.t = float(timestamp)


class Simulation:
    def __init__(self, chain: ChainSettings, plan: Plan, members: list[Member], workdir: Path, step: float = 900,
                 parallel: int = 8, controls_chain: bool | None = None):
        self.chain, self.plan, self.members = chain, plan, members
        self.workdir = Path(workdir)
        (self.workdir / "batteries").mkdir(parents=True, exist_ok=True)
        self.community = Community.open(chain)
        self.time = SimulatedTime(self.community, step, controls_chain)
        self.meter_ids = {m.plan.index: m.meter_id for m in members}
        self.streets = [s for s in range(plan.streets) if any(m.kind == CONSUMER for m in plan.street(s))]
        self.oracles = [self.start_oracle(i) for i in range(len(plan.oracles))]
        self.relays = {s: self.start_relay(s) for s in self.streets}
        # Oracles submitting side by side land in an order that varies from run to run (as on a real
        # chain); parallel=1 submits them in a fixed order, so that two runs can be compared exactly.
        self.pool = ThreadPoolExecutor(parallel, thread_name_prefix="oracle")

    # ------------------------------------------------------------------ the services' configuration

    def board_file(self, street: int) -> Path:
        return self.workdir / f"relay-{street}" / "board.json"

    def oracle_settings(self, oracle: int) -> OracleSettings:
        step = self.time.step
        return OracleSettings(
            chain=self.chain.rotated(oracle), database=self.workdir / f"oracle-{oracle}.db", sample_interval=step,
            meters=[
                {"meter_id": self.meter_ids[m.index],
                 "driver": {"kind": "simulated", **m.driver, "utc_offset_hours": LOCAL_UTC_OFFSET_H,
                            "relay_state_file": self.board_file(m.street), "member": m.address,
                            "battery_state_file": self.workdir / "batteries" / f"{m.index}.bin"},
                 "limits": {"max_gap_s": 2 * step}}
                for m in self.plan.read_by(oracle)
            ],
            batch={"max_readings": 64, "max_seconds": 0}, health={"file": None},  # the contract's MAX_BATCH
        )

    def relay_settings(self, street: int) -> RelaySettings:
        address = {m.index: m.address for m in self.plan.members}
        consumers = [m for m in self.plan.street(street) if m.kind == CONSUMER]
        channels = [c for m in consumers for c in (m.own_channel, *m.seller_channels)]
        folder = self.workdir / f"relay-{street}"
        return RelaySettings(
            chain=self.chain.rotated(street), pins={c: c for c in channels}, state_file=folder / "state.json",
            board_file=self.board_file(street), transitions_file=folder / "transitions.jsonl",
            members={m.address: {"own_channel": m.own_channel,
                                 "sellers": {address[s]: c for s, c in zip(m.sellers, m.seller_channels)}}
                     for m in consumers},
        )

    # ------------------------------------------------------------------ starting and restarting services

    def start_oracle(self, oracle: int) -> Oracle:
        # Each oracle is its own Pi: its own connection, key, queue database and meters.
        # Each on its own node when the chain lists several (ChainSettings.rotated), the others its fallbacks.
        settings = self.oracle_settings(oracle)
        return Oracle(settings, clock=self.time.clock, community=Community.open(settings.chain),
                      account=self.plan.oracles[oracle])

    def start_relay(self, street: int) -> Relay:
        settings = self.relay_settings(street)
        relay = Relay(settings, community=Community.open(settings.chain))
        relay.start()
        return relay

    def kill_oracle(self, oracle: int) -> None:
        """Drop an oracle as a crash would (queue and state stay on disk) and start a new one."""
        self.oracles[oracle] = self.start_oracle(oracle)

    def kill_relay(self, street: int) -> None:
        """The same for a street's relay: it resumes from its state file and its board's position."""
        self.relays[street] = self.start_relay(street)

    def close(self) -> None:
        self.pool.shutdown()
        for oracle in self.oracles:
            oracle.close()

    # ------------------------------------------------------------------ running

    def begin(self, start: int | None = None) -> None:
        """Set the start time and take the first readings (counters as the meters are now)."""
        self.time.begin(start)
        self.sample()
        self.submit()
        self.follow()

    def step(self) -> None:
        self.time.advance()
        self.sample()
        self.submit()
        self.follow()

    def sample(self) -> None:
        for oracle in self.oracles:
            oracle.sample_once()

    def submit(self, timeout: float = 60.0) -> None:
        """Every queued reading on chain before the world moves on (the barrier). The oracles
        submit side by side, as separate Pis do."""
        deadline = time.monotonic() + timeout
        self._retrying(deadline, self.time.resync)
        list(self.pool.map(lambda oracle: self._drain(oracle, deadline), self.oracles))

    def _drain(self, oracle: Oracle, deadline: float) -> None:
        # Oracle.drain would wait out its backoff on the oracle's clock, which is the world's frozen
        # step time here: the barrier retries on wall time instead, once the node is known to be back.
        while oracle.store.pending_count():
            oracle.retry_now()
            if not oracle.flush(force=True) and oracle.store.pending_count():
                self._wait(deadline, oracle.submitter.last_error)
                self._retrying(deadline, self.time.resync)  # a restarted node forgot the world's time

    def follow(self, timeout: float = 60.0) -> None:
        """Every relay has acted on every event up to the chain's head."""
        deadline = time.monotonic() + timeout
        head = self._retrying(deadline, lambda: self.community.w3.eth.block_number)
        for street, relay in self.relays.items():
            while relay.state.cursor < head:
                try:
                    relay.step()
                except ChainUnreadable as exc:
                    self._wait(deadline, f"relay of street {street}: {exc}")

    def _retrying(self, deadline: float, call):
        while True:
            try:
                return call()
            except Exception as exc:  # the node is restarting
                self._wait(deadline, f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _wait(deadline: float, why) -> None:
        if time.monotonic() > deadline:
            raise Stalled(f"no progress before the deadline: {why}")
        time.sleep(0.1)

    # ------------------------------------------------------------------ what the relays did

    def supply(self, member) -> dict | None:
        """The board's current supply of a consumer (source, channel, seller, purchase_id)."""
        board = read_json(self.board_file(member.street)) or {}
        return board.get("supply", {}).get(member.address)
