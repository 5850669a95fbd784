"""Period commitments: the trees and reference files (offline), then `daisee-collective commit`,
`verify` and `settle` against a real anvil with the project's deployment."""
import json
import os
import stat

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from eth_account import Account

from collective import commit as c
from collective.allocate import DefaultDynamic, allocate
from collective.bill import Bill
from collective.cli import main
from collective.merkle import StandardMerkleTree, leaf_hash, process_proof
from tests.collective.conftest import curves

UNITS = 10**16  # token base units per cent (18 decimals, one token a euro)


def run(*args, env=None):
    return CliRunner(env=env).invoke(main, [str(a) for a in args])


@pytest.fixture
def small(tmp_path):
    """Two consumers, one producer, four half-hours, a bill and the salts."""
    production = curves({"P": [1.0, 2.0, 0.0, 1.5]})
    consumption = curves({"A": [0.6, 1.0, 0.5, 0.2], "B": [0.8, 0.5, 0.7, 0.4]})
    allocation = allocate(production, consumption, DefaultDynamic())
    return allocation, c.Salts(tmp_path / "salts.json")


def parties(debits):
    return {m: (Account.create().address, d, cr, bytes([i]) * 32) for i, (m, (d, cr)) in enumerate(debits.items())}


def test_salts_are_private_random_and_erasable(small, tmp_path):
    _, salts = small
    a, b = salts.of("A:consumption"), salts.of("B")
    assert a != b and len(a) == 32 and salts.of("A") == a  # a member's sides share one salt
    assert stat.S_IMODE(os.stat(tmp_path / "salts.json").st_mode) == 0o600
    assert c.Salts(tmp_path / "salts.json").of("A") == a  # kept, never redrawn
    salts.erase("A")
    assert c.Salts(tmp_path / "salts.json").of("A") != a


def test_a_member_proves_its_own_interval_value_from_the_public_tree(small, tmp_path):
    allocation, salts = small
    commitment = c.build(202506, 1, 1, allocation, parties({"A": (5, 0), "P": (0, 5)}), salts)
    commitment.write(tmp_path / "out")
    public = StandardMerkleTree.load_hashes(tmp_path / "out" / "inputs.tree")
    end = int(allocation.index[1].timestamp())
    leaf = leaf_hash(c.INPUT_TYPES, [salts.of("A"), c.member_id("A"), end, c.CONSUMPTION, 1_000_000])  # 1.0 kWh
    assert process_proof(leaf, public.proof(public.leaf_index(leaf))) == commitment.roots["inputs"]
    guessed = leaf_hash(c.INPUT_TYPES, [bytes(32), c.member_id("A"), end, c.CONSUMPTION, 1_000_000])
    with pytest.raises(KeyError):  # without the salt, a value cannot be found in the public tree
        public.leaf_index(guessed)


def test_trees_hold_every_interval_of_every_meter(small):
    allocation, salts = small
    commitment = c.build(202506, 1, 1, allocation, parties({"A": (5, 0), "P": (0, 5)}), salts)
    assert len(commitment.trees["inputs"]) == 4 * 3
    assert len(commitment.trees["allocation"]) == 4 * 3
    assert commitment.settlement_total == 5


def test_unbalanced_or_negative_settlements_are_refused(small):
    allocation, salts = small
    with pytest.raises(ValueError, match="differ"):
        c.build(202506, 1, 1, allocation, parties({"A": (5, 0), "P": (0, 4)}), salts)
    with pytest.raises(ValueError, match="negative"):
        c.build(202506, 1, 1, allocation, parties({"A": (-5, 0), "P": (0, -5)}), salts)


def test_a_prosumers_debit_and_credit_are_netted(small):
    allocation, salts = small
    commitment = c.build(202506, 1, 1, allocation, parties({"A": (7, 2), "P": (0, 5)}), salts)
    a = next(e for e in commitment.entries if e.member == "A")
    assert (a.debit, a.credit) == (5, 0)


def test_missing_values_cannot_be_committed(tmp_path):
    with pytest.raises(ValueError, match="checked first"):
        c.inputs_tree(curves({"P": [1.0, np.nan]}), curves({"A": [0.5, 0.5]}), c.Salts(tmp_path / "s.json"))


def test_the_reference_file_checks_offline_and_a_tampered_value_fails(small, tmp_path):
    allocation, salts = small
    commitment = c.build(202506, 1, 1, allocation, parties({"A": (5, 0), "P": (0, 5)}), salts)
    reference = commitment.reference("A")
    assert c.check_reference(reference) == commitment.entries[0].leaf()
    tampered = json.loads(json.dumps(reference))
    tampered["entry"]["debit"] = "4"
    with pytest.raises(ValueError, match="changed"):
        c.check_reference(tampered)
    tampered = json.loads(json.dumps(reference))
    tampered["proof"][0] = "0x" + "00" * 32
    with pytest.raises(ValueError, match="root"):
        c.check_reference(tampered)


# -- on a real anvil --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def node(tmp_path_factory):
    from tests.support.anvil import AnvilNode

    work = tmp_path_factory.mktemp("anvil")
    node = AnvilNode(work / "anvil").start()
    deployment = node.deploy(work / "local.json")
    yield node, deployment
    node.stop()


@pytest.fixture(scope="module")
def chain_env(tmp_path_factory):
    """The PMO's key (dev account 0: deployer, committer, minter) as a keyfile, its passphrase in the
    environment as in production."""
    from daisee.keys import write_keyfile
    from tests.support.anvil import dev_account

    folder = tmp_path_factory.mktemp("ape")
    os.environ["APE_DATA_FOLDER"] = str(folder)
    write_keyfile("pmo", dev_account(0), "pass", iterations=2)
    env = {"APE_DATA_FOLDER": str(folder), "APE_ACCOUNTS_pmo_PASSPHRASE": "pass"}
    yield env
    os.environ.pop("APE_DATA_FOLDER", None)


@pytest.fixture(scope="module")
def period(node, chain_env, tmp_path_factory):
    """A real-data month billed, with an account per party; debtors funded and approving the settlement
    except one (C002), who has no tokens."""
    from daisee.chain import Community, Transactor
    from tests.support.anvil import CommunityAdmin

    _, deployment = node
    out = tmp_path_factory.mktemp("period")
    assert run("dataset", "--consumers", "4", "--producers", "2", "--out", out).exit_code == 0
    raw = yaml.safe_load((out / "contracts.yaml").read_text())
    keys = {m: Account.create() for m in [*raw["members"], "pmo"]}
    for m in raw["members"]:
        raw["members"][m]["account"] = keys[m].address
    raw["pmo_account"] = keys["pmo"].address
    (out / "contracts.yaml").write_text(yaml.safe_dump(raw))
    files = ["--production", out / "production.csv", "--consumption", out / "consumption.csv"]
    result = run("bill", *files, "--contracts", out / "contracts.yaml", "--out", out / "v1")
    assert result.exit_code == 0, result.output
    community = Community.open(node[0].settings(deployment))
    admin = CommunityAdmin(community)
    settlement = community.deployment.address_of("CollectiveSettlement")
    for member, (debit, _) in Bill.read(out / "v1").settlement().items():
        if debit and member != "C002":
            admin.operator.send_value(keys[member].address, 10**17)
            admin.mint(keys[member], debit * UNITS)
            Transactor(community, keys[member]).transact(
                community.token.functions.approve(settlement, debit * UNITS))
    chain = ["--rpc-url", node[0].url, "--deployment", deployment]
    # July 2025 predates the community's rules on this chain: the version applied is given
    result = run("commit", *files, "--contracts", out / "contracts.yaml", "--bill", out / "v1", "--rules-version", "1",
                 "--salts", out / "salts.json", "--out", out / "c1", *chain, "--account", "pmo", env=chain_env)
    assert result.exit_code == 0, result.output
    return out, chain, community, keys


def test_commit_puts_the_roots_on_chain(period):
    out, _, community, _ = period
    roots = json.loads((out / "c1" / "roots.json").read_text())
    ledger = community.contract("PeriodLedger")
    on_chain = ledger.functions.commitment(202507, 1).call()
    assert "0x" + on_chain[2].hex() == roots["statements_root"]
    assert on_chain[3] == int(roots["settlement_total"])


def test_committed_statements_show_their_proof(period):
    out, *_ = period
    html = (out / "c1" / "statements" / "C001.html").read_text()
    reference = json.loads((out / "c1" / "references" / "C001.json").read_text())
    assert reference["statement_root"] in html and reference["proof"][0] in html
    assert (out / "c1" / "statements" / "C001.pdf").read_bytes().startswith(b"%PDF")


def test_a_member_verifies_its_statement_against_the_chain(period):
    out, chain, *_ = period
    result = run("verify", out / "c1" / "references" / "C001.json", "--statement", out / "v1" / "statements" / "C001.json",
                 *chain)
    assert result.exit_code == 0, result.output
    assert "verified" in result.output


def test_a_tampered_statement_fails_verification(period, tmp_path):
    out, chain, *_ = period
    statement = json.loads((out / "v1" / "statements" / "C001.json").read_text())
    statement["lines"][0]["amount"] = str(float(statement["lines"][0]["amount"]) - 1)
    (tmp_path / "s.json").write_text(json.dumps(statement))
    result = run("verify", out / "c1" / "references" / "C001.json", "--statement", tmp_path / "s.json", *chain)
    assert result.exit_code == 1 and "NOT verified" in result.output


def test_a_reference_for_an_uncommitted_version_fails(period, tmp_path):
    out, chain, *_ = period
    reference = json.loads((out / "c1" / "references" / "C001.json").read_text())
    reference["version"] = 2
    (tmp_path / "r.json").write_text(json.dumps(reference))
    result = run("verify", tmp_path / "r.json", *chain)
    assert result.exit_code == 1 and "not committed" in result.output


def test_committing_the_same_version_again_is_refused(period, chain_env):
    out, chain, *_ = period
    files = ["--production", out / "production.csv", "--consumption", out / "consumption.csv"]
    result = run("commit", *files, "--contracts", out / "contracts.yaml", "--bill", out / "v1", "--salts",
                 out / "salts.json", "--out", out / "again", *chain, "--account", "pmo", env=chain_env)
    assert result.exit_code == 1 and "give --rules-version" in result.output  # no rules in force in July 2025
    result = run("commit", *files, "--contracts", out / "contracts.yaml", "--bill", out / "v1", "--salts",
                 out / "salts.json", "--out", out / "again", *chain, "--account", "pmo", "--rules-version", "1",
                 env=chain_env)
    assert result.exit_code == 1 and "VersionNotNext" in result.output


def test_settle_collects_who_can_pay_and_pays_creditors_their_share(period, chain_env):
    out, chain, community, keys = period
    result = run("settle", out / "c1", *chain, "--account", "pmo", env=chain_env)
    assert result.exit_code == 0, result.output
    assert "C002" in result.output  # could not pay: reported, the others settled
    settlement = Bill.read(out / "v1").settlement()
    total = sum(d for d, _ in settlement.values())
    collected = total - settlement["C002"][0]
    for member, (_, credit) in settlement.items():
        if credit:
            received = community.token.functions.balanceOf(keys[member].address).call()
            assert received == credit * UNITS * collected // total
    pot = community.contract("CollectiveSettlement").functions.pot(202507, 1).call()
    assert pot[0] == collected * UNITS and pot[1] <= pot[0]


def test_corrected_data_is_committed_as_version_2_and_version_1_stays_verifiable(period, chain_env):
    import pandas as pd

    out, chain, community, _ = period
    corrected = pd.read_csv(out / "consumption.csv", index_col=0)
    corrected["C001"] *= 1.1  # the grid operator's late correction of one meter
    corrected.to_csv(out / "consumption-v2.csv")
    files = ["--production", out / "production.csv", "--consumption", out / "consumption-v2.csv"]
    result = run("bill", *files, "--contracts", out / "contracts.yaml", "--previous", out / "v1", "--out", out / "v2")
    assert result.exit_code == 0, result.output
    result = run("commit", *files, "--contracts", out / "contracts.yaml", "--bill", out / "v2", "--salts",
                 out / "salts.json", "--out", out / "c2", *chain, "--account", "pmo", "--rules-version", "1",
                 env=chain_env)
    assert result.exit_code == 0, result.output
    assert community.contract("PeriodLedger").functions.latestVersion(202507).call() == 2
    v2 = Bill.read(out / "v2").settlement()
    # the corrected member owes more; the key then gives others less local energy: the differences balance
    assert v2["C001"][0] > 0 and sum(d for d, _ in v2.values()) == sum(c for _, c in v2.values())
    old = run("verify", out / "c1" / "references" / "C002.json", "--statement", out / "v1" / "statements" / "C002.json",
              *chain)
    assert old.exit_code == 0 and "superseded" in old.output
