"""Fixtures of the oracle suite: a meter key in a temporary ape data folder, freshly registered
meters on the session anvil, and oracles built on them with a manual clock."""
from __future__ import annotations

import os

import pytest
import yaml
from eth_account import Account

from daisee.chain import PROSUMER, Community, EventReader
from daisee.keys import write_keyfile
from oracle.clock import ManualClock
from oracle.drivers import Sample
from oracle.service import Oracle
from oracle.settings import OracleSettings
from tests.oracle.inputs import LOGIN, PASSWORD, Arduino, Base
from tests.support.anvil import AnvilNode, CommunityAdmin
from tests.support.scenario import funded_account

ALIAS, PASSPHRASE = "oracle-test", "correct horse"


class ScriptedMeter:
    """Stands in for the meter hardware: yields the given samples, then steady 1 kW / 500 W."""

    def __init__(self, clock, samples=()):
        self.clock, self.samples = clock, list(samples)

    def read(self) -> Sample:
        if self.samples:
            return self.samples.pop(0)
        return Sample(self.clock.now(), 1000.0, 500.0, 600)

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def ape_folder(tmp_path_factory):
    """A temporary ape data folder holding the gateway keyfile, for this whole session."""
    folder = tmp_path_factory.mktemp("ape")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APE_DATA_FOLDER", str(folder))
        patch.setenv(f"APE_ACCOUNTS_{ALIAS}_PASSPHRASE", PASSPHRASE)
        yield folder


def store_key(key, alias: str = ALIAS) -> None:
    """`key` as an ape keyfile in the session's APE_DATA_FOLDER, at a cheap scrypt cost: the
    default costs ~1 s to decrypt, which every oracle start (and the kill -9 loop) would pay."""
    write_keyfile(alias, key, PASSPHRASE, iterations=2**10)


@pytest.fixture(scope="module")
def own_node(tmp_path_factory):
    """(anvil, deployment file) of the test module's own: killing or restarting that node does not
    disturb the other suites."""
    workdir = tmp_path_factory.mktemp("own-anvil")
    node = AnvilNode(workdir).start()
    try:
        yield node, node.deploy(workdir / "local.json")
    finally:  # a failed deployment too: no anvil left behind
        node.stop(hard=True)


@pytest.fixture(scope="session")
def gateway(chain_settings, ape_folder):
    """A funded oracle key stored as an ape keyfile."""
    key = funded_account(CommunityAdmin(Community.open(chain_settings)), tokens=0)
    store_key(key)
    return key


@pytest.fixture
def register(admin, gateway):
    """register(kind=PROSUMER) -> meter id of a fresh member read by the gateway key."""

    def make(kind: int = PROSUMER) -> int:
        return admin.register(Account.create(), kind, gateway)

    return make


@pytest.fixture
def meter_id(register):
    return register()


@pytest.fixture
def clock(community):
    """Oracle time from the node's, a little behind it: a test advancing it by minutes stays within
    the contract's clock skew however far the node's clock and this machine's have drifted apart."""
    return ManualClock(community.w3.eth.get_block("latest")["timestamp"] - 200)


@pytest.fixture
def settings_for(tmp_path, chain_settings):
    """settings_for(*meter_ids, **overrides) -> OracleSettings with simulated drivers."""

    def make(*meter_ids: int, **overrides) -> OracleSettings:
        values = {
            "chain": chain_settings.model_dump(mode="json"),
            "account": ALIAS,
            "database": str(tmp_path / "oracle.db"),
            "sample_interval": 0.05,
            "meters": [{"meter_id": m, "driver": {"kind": "simulated", "seed": m}} for m in meter_ids],
            "batch": {"max_readings": 10, "max_seconds": 0},
            "retry": {"initial_s": 0.05, "max_s": 0.2},
            "health": {"file": str(tmp_path / "health.json")},
        }
        values.update(overrides)
        path = tmp_path / "oracle.yaml"
        path.write_text(yaml.safe_dump(values))
        return OracleSettings.load(path)

    return make


@pytest.fixture
def make_oracle(settings_for, clock, community, gateway):
    """make_oracle(meter_id, samples=(), **overrides) -> Oracle reading a ScriptedMeter."""
    made = []

    def make(meter_id: int, samples=(), **overrides) -> Oracle:
        settings = settings_for(meter_id, **overrides)
        oracle = Oracle(settings, clock=clock, community=community, account=gateway,
                        drivers={meter_id: ScriptedMeter(clock, samples)})
        made.append(oracle)
        return oracle

    yield make
    for oracle in made:
        oracle.close()


def chain_readings(community: Community, meter_id: int) -> list[tuple]:
    """(seq, timestamp, produced, consumed, soc) of every MeterReading event of the meter."""
    events = EventReader(community, ["MeterReading"]).fetch(0, community.w3.eth.block_number)
    fields = ("seq", "timestamp", "producedWh", "consumedWh", "socPermille")
    return [tuple(e.args[f] for f in fields) for e in events if e.args["meterId"] == meter_id]


def local_readings(oracle: Oracle, meter_id: int) -> list[tuple]:
    return [r.as_tuple()[1:] for r in oracle.store.readings(meter_id)]


def sample_and_flush(oracle: Oracle, clock, n: int) -> None:
    """`n` sampling rounds 10 s apart, then everything queued submitted."""
    for _ in range(n):
        clock.advance(10)
        oracle.sample_once()
    assert oracle.drain(timeout=60)


def gateway_oracle(make_oracle, clock, meter_ids: list[int], **overrides) -> Oracle:
    """An oracle reading the meters `meter_ids` with one key (a gateway), each its own ScriptedMeter."""
    oracle = make_oracle(meter_ids[0], meters=[{"meter_id": m} for m in meter_ids], **overrides)
    oracle.drivers.update({m: ScriptedMeter(clock) for m in meter_ids[1:]})
    return oracle


@pytest.fixture
def base():
    """A CitizenWatt base on loopback (tests.oracle.inputs.Base)."""
    server = Base()
    yield server
    server.close()


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("CITIZENWATT_LOGIN", LOGIN)
    monkeypatch.setenv("CITIZENWATT_PASSWORD", PASSWORD)


@pytest.fixture
def arduino(tmp_path):
    """An Arduino at the end of a pty, as `tmp_path/ttyDAISEE`."""
    device = Arduino(tmp_path / "ttyDAISEE")
    yield device
    try:
        os.close(device.master)
    except OSError:  # unplugged by the test
        pass
