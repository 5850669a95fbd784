"""`daisee-collective` as a PMO's operator runs it: on the real-data month and on grid-operator files."""
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from collective.cli import main


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    out = tmp_path_factory.mktemp("month")
    result = CliRunner().invoke(main, ["dataset", "--consumers", "4", "--producers", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_check_reports_every_meter_day_of_the_month(month, tmp_path):
    result = run("check", month / "consumption.csv", "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["billable"] and len(report["days"]) == 4 * 31


def test_allocate_writes_allocation_totals_and_a_key_file_that_add_up(month, tmp_path):
    result = run("allocate", "--production", month / "production.csv", "--consumption", month / "consumption.csv",
                 "--out", tmp_path)
    assert result.exit_code == 0, result.output
    totals = pd.read_csv(tmp_path / "consumers.csv", index_col=0)
    assert ((totals["autocons"] + totals["complement"] - totals["consumption"]).abs() < 1e-9).all()
    keys = pd.read_csv(tmp_path / "keys.csv", sep=";", decimal=",", index_col=0)
    assert list(keys.columns) == ["C001", "C002", "C003", "C004"] and len(keys) == 31 * 48
    assert keys.sum(axis=1).max() <= 100 and keys.to_numpy().min() >= 0
    production = pd.read_csv(month / "production.csv", index_col=0).sum(axis=1).to_numpy()
    assert (keys.sum(axis=1).to_numpy()[production == 0] == 0).all()


def test_a_static_key_over_100_percent_is_refused_clearly(month, tmp_path):
    shares = tmp_path / "shares.json"
    shares.write_text(json.dumps({"C001": 0.7, "C002": 0.5}))
    result = run("allocate", "--production", month / "production.csv", "--consumption", month / "consumption.csv",
                 "--key", "static", "--shares", shares, "--out", tmp_path / "out")
    assert result.exit_code == 1 and "Error:" in result.output and "Traceback" not in result.output


def test_a_grid_operator_file_with_a_bad_row_names_file_and_row(tmp_path):
    path = tmp_path / "courbe.csv"
    path.write_text("Identifiant PRM;Horodate;Valeur;Unite;Pas\n"
                    "12345678901234;2025-07-01T00:30:00+02:00;800;W;PT30M\n"
                    "12345678901234;not a date;800;W;PT30M\n")
    result = run("check", path)
    assert result.exit_code == 1
    assert str(path) in result.output and "row 3" in result.output and "Traceback" not in result.output


def enedis_day(path, prm: str, kind: str, watts: list[float]):
    """A grid operator's load-curve export of one local day at 30 min, average W per interval."""
    ends = pd.date_range("2025-07-01 00:30", periods=48, freq="30min", tz="Europe/Paris")
    lines = ["Identifiant PRM;Grandeur metier;Horodate;Valeur;Unite;Pas;Nature"]
    lines += [f"{prm};{kind};{t.isoformat()};{str(w).replace('.', ',')};W;PT30M;B" for t, w in zip(ends, watts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_check_and_allocate_on_grid_operator_files(tmp_path):
    sun = [0.0] * 14 + [1_000.0 * min(t, 19 - t) for t in range(20)] + [0.0] * 14  # W, a day's PV bell
    prod = enedis_day(tmp_path / "prod.csv", "30000000000001", "PROD", sun)
    cons = enedis_day(tmp_path / "cons.csv", "30000000000002", "CONS", [600.0] * 48)
    assert run("check", prod, cons).exit_code == 0
    result = run("allocate", "--production", prod, "--consumption", cons, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    totals = pd.read_csv(tmp_path / "out" / "consumers.csv", index_col=0)
    (consumed,) = totals["consumption"]  # 600 W x 24 h
    (local,) = totals["autocons"]  # each half-hour: min(the PV's energy, 0.3 kWh)
    expected_local = sum(min(w, 600.0) for w in sun) * 0.5 / 1000
    assert consumed == pytest.approx(14.4) and local == pytest.approx(expected_local)
    per_step = pd.read_csv(tmp_path / "out" / "allocation.csv", header=[0, 1], index_col=0)
    assert per_step[("surplus_kwh", "30000000000001:production")].sum() == pytest.approx(sum(sun) / 2000 - local)
