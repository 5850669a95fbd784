"""`daisee-collective bill` on the real-data month and its sample contracts."""
import json

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from collective.bill import Statement
from collective.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    out = tmp_path_factory.mktemp("month")
    assert run("dataset", "--consumers", "4", "--producers", "2", "--out", out).exit_code == 0
    return out


@pytest.fixture(scope="module")
def first(month, tmp_path_factory):
    out = tmp_path_factory.mktemp("bills") / "v1"
    result = run("bill", "--production", month / "production.csv", "--consumption", month / "consumption.csv",
                 "--contracts", month / "contracts.yaml", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_bill_writes_a_statement_of_each_kind_per_party_and_a_summary(first):
    parties = ["C001", "C002", "C003", "C004", "P01", "P02", "pmo"]
    for party in parties:
        for suffix in (".json", ".html", ".pdf"):
            assert (first / "statements" / f"{party}{suffix}").stat().st_size > 0
    summary = pd.read_csv(first / "bill.csv", index_col=0)
    assert list(summary.index) == parties and (summary["version"] == 1).all()
    assert summary["local_debit_cents"].sum() == summary["local_credit_cents"].sum() > 0
    statement = Statement.from_json((first / "statements" / "C001.json").read_text())
    assert summary.loc["C001", "digest"] == statement.digest() and statement.period == "2025-07"


def test_bill_refuses_to_overwrite_a_version(month, first):
    before = (first / "statements" / "C001.json").read_text()
    result = run("bill", "--production", month / "production.csv", "--consumption", month / "consumption.csv",
                 "--contracts", month / "contracts.yaml", "--out", first)
    assert result.exit_code == 1 and "already holds a bill" in result.output
    assert (first / "statements" / "C001.json").read_text() == before


def test_corrected_data_gives_version_2_with_regularisation_lines(month, first, tmp_path):
    corrected = pd.read_csv(month / "consumption.csv", index_col=0)
    corrected["C002"] *= 1.1  # the grid operator's corrected curve
    corrected.to_csv(tmp_path / "consumption.csv", float_format="%.6f")
    result = run("bill", "--production", month / "production.csv", "--consumption", tmp_path / "consumption.csv",
                 "--contracts", month / "contracts.yaml", "--previous", first, "--out", tmp_path / "v2")
    assert result.exit_code == 0, result.output
    v2 = json.loads((tmp_path / "v2" / "statements" / "C002.json").read_text())
    assert v2["version"] == 2 and any(x["kind"] == "regularisation" for x in v2["lines"])
    v1 = Statement.from_json((first / "statements" / "C002.json").read_text())
    new = Statement.from_json(json.dumps(v2))
    assert new.due["supplier"] == new.totals["supplier"].ttc - v1.totals["supplier"].ttc > 0  # more consumed
    summary = pd.read_csv(tmp_path / "v2" / "bill.csv", index_col=0)
    assert summary["local_debit_cents"].sum() == summary["local_credit_cents"].sum()


def test_bad_contracts_end_in_one_line_naming_member_and_field(month, tmp_path):
    contracts = yaml.safe_load((month / "contracts.yaml").read_text())
    contracts["members"]["C003"]["kva"] = -6
    (tmp_path / "contracts.yaml").write_text(yaml.safe_dump(contracts))
    result = run("bill", "--production", month / "production.csv", "--consumption", month / "consumption.csv",
                 "--contracts", tmp_path / "contracts.yaml", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "members.C003.kva" in result.output and "Traceback" not in result.output
