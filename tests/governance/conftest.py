"""`daisee-governance` against a real anvil: the contracts deployed by `ape run deploy` with short
governance delays, members registered by the operator, their keys as ape keyfiles, and time moved
with anvil's evm_increaseTime."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from daisee.chain import CONSUMER, Community
from daisee.keys import write_keyfile
from governance.cli import main
from governance.contracts import Governance
from tests.support.anvil import AnvilNode, CommunityAdmin, dev_account
from tests.support.scenario import funded_account

PASSPHRASE = "governance-test"
TIMELOCK_DELAY, VOTING_DELAY, VOTING_PERIOD = 30, 1, 120
GOVERNANCE_OPTIONS = ("--admin-delay", "0", "--timelock-delay", str(TIMELOCK_DELAY), "--voting-delay",
                      str(VOTING_DELAY), "--voting-period", str(VOTING_PERIOD), "--quorum-percent", "67")  # 2 of 3 members
MEMBERS = ("alice", "bob", "carol")


class Chain:
    """A node with a deployment, and the CLI run against it."""

    def __init__(self, node: AnvilNode, deployment):
        self.node, self.deployment = node, deployment
        self.community = Community.open(node.settings(deployment))
        self.gov = Governance.open(self.community)

    def travel(self, seconds: int) -> None:
        w3 = self.community.w3
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    def cli(self, *args: str, account: str | None = None):
        """`daisee-governance <args>` on this chain (as `account`): the click Result."""
        where = ["--deployment", str(self.deployment), "--rpc-url", self.node.url]
        who = ["--account", account] if account else []
        command, rest = (list(args[:2]), list(args[2:])) if args[0] == "propose" else ([args[0]], list(args[1:]))
        return CliRunner().invoke(main, command + rest + where + who)

    def ok(self, *args: str, account: str | None = None) -> str:
        result = self.cli(*args, account=account)
        assert result.exit_code == 0, result.output
        return result.output

    def refused(self, *args: str, account: str | None = None) -> str:
        """The one-line error of a refused command (no traceback)."""
        result = self.cli(*args, account=account)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert "Traceback" not in result.output
        return result.output


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """An ape data folder for the module's keyfiles; their passphrases in the environment."""
    folder = tmp_path_factory.mktemp("ape")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APE_DATA_FOLDER", str(folder))
        for alias in ("deployer", "stranger", *MEMBERS):
            patch.setenv(f"APE_ACCOUNTS_{alias}_PASSPHRASE", PASSPHRASE)
        yield folder


def node_with(tmp_path_factory, keys, *options: str):
    workdir = tmp_path_factory.mktemp("gov-anvil")
    node = AnvilNode(workdir).start()
    try:
        chain = Chain(node, node.deploy(workdir / "local.json", options=GOVERNANCE_OPTIONS + options))
        write_keyfile("deployer", dev_account(0), PASSPHRASE, iterations=2**10)
        admin = CommunityAdmin(chain.community)
        write_keyfile("stranger", funded_account(admin, tokens=0), PASSPHRASE, iterations=2**10)
        for alias in MEMBERS:
            member = funded_account(admin, tokens=0)
            admin.register(member, CONSUMER, dev_account(1))
            write_keyfile(alias, member, PASSPHRASE, iterations=2**10)
        chain.travel(1)  # votes count from the second after joining
        return chain
    except BaseException:
        node.stop(hard=True)
        raise


@pytest.fixture(scope="module")
def governed(tmp_path_factory, keys):
    """Deployed with the hand-over begun (the default), completed with `daisee-governance handover`."""
    chain = node_with(tmp_path_factory, keys)
    try:
        chain.travel(TIMELOCK_DELAY + 1)
        chain.ok("handover", account="deployer")
        yield chain
    finally:
        chain.node.stop(hard=True)


@pytest.fixture
def pilot(tmp_path_factory, keys):
    """Deployed --single-admin: the deployer keeps the admin role."""
    chain = node_with(tmp_path_factory, keys, "--single-admin")
    try:
        yield chain
    finally:
        chain.node.stop(hard=True)


@pytest.fixture
def fee_proposal(governed):
    """A new proposal (unique description) to set the fee; its id."""
    fee_proposal.count = getattr(fee_proposal, "count", 0) + 1
    out = governed.ok("propose", "fee", "--bps", "42", "--description", f"fee to 0.42 % ({fee_proposal.count})",
                      account="alice")
    return out.strip()
