"""A real anvil node for service and end-to-end tests: start, stop (kill -9 or graceful), restart
with its state or from an earlier snapshot (a rollback), deploy the contracts with `ape run deploy`,
and fund community members."""
from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from eth_account import Account
from web3 import Web3

from daisee.chain import Community, Transactor
from daisee.config import ChainSettings

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "node_modules" / ".bin" / "anvil"
# anvil's and ape's default development mnemonic: these keys are public test keys.
MNEMONIC = "test test test test test test test test test test test junk"
Account.enable_unaudited_hdwallet_features()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dev_account(index: int):
    return Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


class AnvilNode:
    def __init__(self, workdir: Path, port: int | None = None, block_time: float | None = None,
                 hardfork: str | None = None, gas_limit: int | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.block_time = block_time
        self.hardfork = hardfork  # e.g. "paris": a chain without Shanghai's PUSH0
        self.gas_limit = gas_limit  # a block's gas limit (anvil's default: 30 M)
        self.state = self.workdir / "anvil-state.json"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "AnvilNode":
        cmd = [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), "--state", str(self.state),
               "--accounts", "20", "--silent"]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.hardfork:
            cmd += ["--hardfork", self.hardfork]
        if self.gas_limit:
            cmd += ["--gas-limit", str(self.gas_limit)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                latest = w3.eth.get_block("latest")["timestamp"]
            except Exception:
                time.sleep(0.05)
                continue
            # anvil restarted from its state file starts its clock at wall time, behind a chain whose time
            # tests moved on: a real chain's time never goes back (the membership's vote checkpoints
            # refuse it), so the clock resumes after the last block.
            if latest >= time.time():
                w3.provider.make_request("anvil_setTime", [latest + 1])
            return self
        raise RuntimeError(f"anvil did not start on {self.url}")

    def stop(self, hard: bool = False) -> None:
        """Graceful stop writes the chain state to disk (restart keeps it); hard is kill -9."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        self.proc.wait(timeout=15)
        self.proc = None

    def snapshot(self) -> None:
        """Write the chain state to the state file now (`anvil_dumpState`, what a `--state-interval`
        tick does): a later `stop(hard=True)` then `start()` comes back here, every block mined since
        gone, as a node killed between two state dumps does."""
        dump = Web3(Web3.HTTPProvider(self.url)).provider.make_request("anvil_dumpState", [])["result"]
        self.state.write_bytes(gzip.decompress(bytes.fromhex(dump.removeprefix("0x"))))

    def restart(self) -> None:
        self.stop()
        self.start()

    def ape(self, *args: str, **popen) -> subprocess.Popen:
        """`ape <args>` of this repository with ape-foundry pointed at this node (not starting its own)."""
        env = {**os.environ, "APE_FOUNDRY_HOST": self.url, "PYTHONPATH": str(REPO),
               "SOLCX_BINARY_PATH": str(REPO / "tools" / "solc")}
        return subprocess.Popen([shutil.which("ape") or str(REPO / ".venv" / "bin" / "ape"), *args], cwd=REPO,
                                env=env, **popen)

    def ape_run(self, *args: str, timeout: float) -> None:
        """`ape run <args>` to completion; its output in the error when it fails."""
        with self.ape("run", *args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            output, _ = proc.communicate(timeout=timeout)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, ["ape", "run", *args], output)

    def deploy(self, out: Path, fee_bps: int = 100, options: tuple[str, ...] = ()) -> Path:
        """Deploy through the project's own `ape run deploy`, as an operator would (`options`: more of
        its flags, e.g. governance delays)."""
        self.ape_run("deploy", "--network", "ethereum:local:foundry", "--redeploy", "--fee-bps", str(fee_bps),
                     "--out", str(out), *options, timeout=180)
        return out

    def settings(self, deployment: Path) -> ChainSettings:
        return ChainSettings(rpc_url=self.url, deployment=deployment, poll_interval=0.05)


class CommunityAdmin:
    """Operator-side set-up for tests: register meters, mint, offers, rules, approvals."""

    def __init__(self, community: Community):
        self.community = community
        self.operator = Transactor(community, dev_account(0))  # deployer: admin, operator, minter

    def register(self, owner, kind: int, oracle) -> int:
        ex = self.community.exchange
        self.operator.transact(ex.functions.registerMeter(owner.address, kind, oracle.address))
        return ex.functions.meterOf(owner.address).call()

    def mint(self, to, amount: int) -> None:
        self.operator.transact(self.community.token.functions.mint(to.address, amount))

    def as_member(self, member) -> Transactor:
        return Transactor(self.community, member)
