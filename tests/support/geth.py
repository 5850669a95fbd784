"""A private Clique network of geth validators for the proof-of-authority tests: tools/poa's own
Network on free ports in a temporary folder, the project's `ape run deploy` against it with an ape
keyfile account, and community members funded by transfer (a real chain has no anvil_setBalance)."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from eth_account import Account

from daisee.chain import Community
from daisee.config import ChainSettings
from daisee.keys import write_keyfile
from tests.support.anvil import REPO, CommunityAdmin, dev_account

GAS_MONEY = 10**19  # wei a test member gets from the operator (10 coins: thousands of transactions)
OPERATOR_ALIAS = "poa-operator"
APE_CLIQUE = REPO / "tools" / "ape-clique"  # ape 0.8.51's PoA detection fix (see its docstring)


def _load_tools_poa():
    """tools/poa, the launcher the developers use, as a module (its file name has no .py)."""
    loader = importlib.machinery.SourceFileLoader("daisee_tools_poa", str(REPO / "tools" / "poa"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    sys.modules[loader.name] = module  # dataclasses resolve the module's annotations through it
    loader.exec_module(module)
    return module


poa = _load_tools_poa()


def build_geth() -> None:
    """tools/geth-build: instant once built, minutes from a fresh clone (`make geth` does it first)."""
    subprocess.run([str(REPO / "tools" / "geth-build")], check=True, timeout=900)


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (all held open while choosing, so none comes twice)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def network(root: Path, nodes: int = 3, period: int = 1) -> "poa.Network":
    """A new Clique network of `nodes` validators in `root` (period 1 s: the tests wait for blocks)."""
    ports = free_ports(3 * nodes)
    return poa.Network(root, nodes=nodes, period=period, http_ports=ports[:nodes],
                       p2p_ports=ports[nodes:2 * nodes], authrpc_ports=ports[2 * nodes:])


def deploy(url: str, out: Path, data_folder: Path, timeout: float = 180, ape_fix: bool = True) -> Path:
    """The project's `ape run deploy` on ethereum:daisee-poa against `url`, as an operator would: dev
    account 0 (prefunded in the genesis) imported as an ape keyfile account in `data_folder`, its
    passphrase and the "Sign?" confirmations typed on stdin (scripts/deploy.py does not autosign).
    `ape_fix`: with tools/ape-clique, without which ape 0.8.51 cannot read a Clique block."""
    passphrase = "poa-test-passphrase"
    env = {**os.environ, "APE_DATA_FOLDER": str(data_folder), "SOLCX_BINARY_PATH": str(REPO / "tools" / "solc"),
           "PYTHONPATH": os.pathsep.join([*([str(APE_CLIQUE)] if ape_fix else []), str(REPO)])}
    _write_ape_account(data_folder, passphrase)
    # the URI after the network name is ape's own shortcut for "this network, its node provider, there"
    args = ["run", "deploy", "--network", f"ethereum:daisee-poa:{url}", "--account", OPERATOR_ALIAS,
            "--redeploy", "--out", str(out)]
    answers = f"y\n{passphrase}\ny\n" + "y\n" * 10  # sign, passphrase, stay unlocked, sign the rest
    ape = shutil.which("ape") or str(REPO / ".venv" / "bin" / "ape")
    # own session: no controlling terminal, so the passphrase prompt reads stdin, not /dev/tty
    done = subprocess.run([ape, *args], cwd=REPO, env=env, input=answers, capture_output=True, text=True,
                          timeout=timeout, start_new_session=True)
    if done.returncode:
        raise subprocess.CalledProcessError(done.returncode, ["ape", *args], done.stdout + done.stderr)
    return out


def _write_ape_account(data_folder: Path, passphrase: str) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("APE_DATA_FOLDER", str(data_folder))  # daisee.keys writes where ape will look
        write_keyfile(OPERATOR_ALIAS, dev_account(0), passphrase, iterations=2**10)


def community(url: str, deployment: Path) -> Community:
    """The deployed contracts over `url`, connected as the services connect (daisee.chain.connect)."""
    return Community.open(ChainSettings(rpc_url=url, deployment=deployment, poll_interval=0.1))


def funded_account(admin: CommunityAdmin, tokens: int = 10**21):
    """tests.support.scenario.funded_account on a real chain: gas money sent by the operator."""
    account = Account.create()
    transfer = admin.operator.send_value(account.address, GAS_MONEY)
    if tokens:
        admin.mint(account, tokens)  # same sender, next nonce: both in the same block
    admin.operator.wait(transfer)
    return account


@pytest.fixture(scope="module")
def poa_network(tmp_path_factory):
    """Three validators sealing every second, their first block made; killed at the end."""
    build_geth()
    net = network(tmp_path_factory.mktemp("poa"))
    try:
        net.start()
        net.wait_block(1, timeout=30)
        yield net
    finally:
        net.stop(hard=True)
