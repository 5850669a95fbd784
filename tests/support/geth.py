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
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from eth_account import Account

from daisee.chain import Community, Deployment
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


class DeployFailed(subprocess.CalledProcessError):
    """`ape run deploy` failed: its output's end in the message pytest shows."""

    def __str__(self) -> str:
        return f"{super().__str__()}\n{self.output[-3000:]}"


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
    answers = f"y\n{passphrase}\ny\n" + "y\n" * 100  # sign, passphrase, stay unlocked, sign the rest
    ape = shutil.which("ape") or str(REPO / ".venv" / "bin" / "ape")
    # own session: no controlling terminal, so the passphrase prompt reads stdin, not /dev/tty
    done = subprocess.run([ape, *args], cwd=REPO, env=env, input=answers, capture_output=True, text=True,
                          timeout=timeout, start_new_session=True)
    if done.returncode:
        raise DeployFailed(done.returncode, ["ape", *args], done.stdout + done.stderr)
    return out


def wait_deployed(net: "poa.Network", deployment: Path, timeout: float = 30) -> None:
    """Until every node has imported the whole deployment: the contracts' code, and the operator's
    transactions as far as the node that deployed has them. A transaction built through a node still
    behind is estimated against a state without the contracts: a call to an address with no code
    costs 21 000 gas and some calldata, so `Transactor.send` signs ~36 000 gas and the transaction
    is mined out of gas, with status 0 (the `mint` seen failing on a fresh clone: the deploy went
    through node0, the set-up through node1, a block behind)."""
    made = Deployment.load(deployment)
    addresses = [made.token, made.exchange, *made.contracts.values()]
    nonce = max(int(poa.rpc(n.url, "eth_getTransactionCount", [poa.OPERATOR, "latest"]), 16) for n in net.nodes)
    deadline = time.monotonic() + timeout
    while True:
        behind = [n.name for n in net.nodes
                  if int(poa.rpc(n.url, "eth_getTransactionCount", [poa.OPERATOR, "latest"]), 16) < nonce
                  or any(poa.rpc(n.url, "eth_getCode", [a, "latest"]) in ("0x", "") for a in addresses)]
        if not behind:
            return
        if time.monotonic() > deadline:
            raise poa.PoaError(f"{', '.join(behind)} had not imported the deployment within {timeout:.0f} s")
        time.sleep(0.1)


class Partition:
    """One validator cut off from the others (see `partition`)."""

    def __init__(self, net: "poa.Network", index: int):
        self.net, self.lone = net, net.nodes[index]
        self.others = [n for n in net.nodes if n is not self.lone]

    def cut(self, timeout: float = 30) -> None:
        # its miner stopped first, and a block of another validator on top: a Clique signer may not
        # seal two blocks in a row, so the lone node could seal nothing if the last block were its own
        miner(self.lone, "stop")
        # a seal already under way still ends in a block after miner_stop (Clique waits out the
        # period, then signs): wait until a block after that is on the lone node, another's
        time.sleep(2 * self.net.params.period + 1)
        _until(lambda: self._signer(self.lone.head()) != self.lone.validator.lower(), timeout,
               "a block of another validator at the lone node's head")
        # Both sides, the lone node's static list first: each node redials its static peers, so a
        # dial already under way can still connect once; hence again until it holds for a while.
        deadline, held = time.monotonic() + timeout, 0
        while held < 5:
            if time.monotonic() > deadline:
                raise poa.PoaError(f"{self.lone.name} could not be cut off: peers "
                                   f"{[n.peers() for n in self.net.nodes]}")
            if self._apart():
                held += 1
            else:
                held = 0
                for other in self.others:
                    poa.rpc(self.lone.url, "admin_removePeer", [other.enode()])
                for other in self.others:
                    poa.rpc(other.url, "admin_removePeer", [self.lone.enode()])
            time.sleep(0.2)
        self.head = self.lone.head()
        if self._signer(self.head) == self.lone.validator.lower():  # it could seal nothing alone
            raise poa.PoaError(f"{self.lone.name} sealed its head {self.head} itself after its miner stopped")

    def _signer(self, number: int) -> str:
        return poa.rpc(self.lone.url, "clique_getSigner", [hex(number)]).lower()

    def _apart(self) -> bool:
        return self.lone.peers() == 0 and all(o.peers() == len(self.others) - 1 for o in self.others)

    def seal_alone(self, timeout: float = 30) -> dict:
        """The lone node's miner restarted: it seals one block of its own (then it may not seal
        again alone); returns that block (number, hash, transactions)."""
        miner(self.lone, "start")
        _until(lambda: (self.lone.head() or 0) > self.head, timeout, "a block sealed by the lone validator")
        block = poa.rpc(self.lone.url, "eth_getBlockByNumber", [hex(self.head + 1), False])
        return {"number": int(block["number"], 16), "hash": block["hash"], "transactions": block["transactions"]}

    def majority_ahead(self, blocks: int, timeout: float = 60) -> None:
        """Until the two others are `blocks` past the cut: their chain outweighs the lone node's."""
        self.net.wait_block(self.head + blocks, timeout=timeout, nodes=[o.index for o in self.others])

    def heal(self, timeout: float = 60) -> None:
        miner(self.lone, "start")
        for other in self.others:
            poa.rpc(other.url, "admin_addPeer", [self.lone.enode()])
            poa.rpc(self.lone.url, "admin_addPeer", [other.enode()])
        _until(lambda: all(n.peers() == len(self.net.nodes) - 1 for n in self.net.nodes), timeout,
               "the validators peered again")


@contextmanager
def partition(net: "poa.Network", index: int):
    """Validator `index` cut off from the others (admin_removePeer on every side), its miner stopped
    until `seal_alone()`; healed on leaving (admin_addPeer, miner started)."""
    cut = Partition(net, index)
    cut.cut()
    try:
        yield cut
    finally:
        cut.heal()


def miner(node: "poa.Node", action: str) -> None:
    poa.rpc(node.url, f"miner_{action}", [])


def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise poa.PoaError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


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
