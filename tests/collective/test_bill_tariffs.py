"""The rate tables (collective.tariffs): published rows, lookups by date, community tables, time slots."""
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from collective.tariffs import Tariffs, read_table, slot_codes

HEADER = "name,valid_from,valid_to,value,unit,source\n"


@pytest.fixture(scope="module")
def fr():
    return Tariffs.load()


def test_turpe7_self_consumption_rates_from_august_2025(fr):
    day = date(2025, 8, 1)
    auto = [fr.text(f"turpe.BTINFCU4.acc.auto.{s}", day) for s in ("hph", "hch", "hpb", "hcb")]
    allo = [fr.text(f"turpe.BTINFCU4.acc.allo.{s}", day) for s in ("hph", "hch", "hpb", "hcb")]
    assert auto == ["2.86", "1.28", "0.76", "0.49"] and allo == ["7.52", "4.03", "1.73", "1.21"]
    assert fr.value("turpe.BTINFCU4.acc.cg", day) == Decimal("21.27")
    assert fr.value("turpe.BTINFCU4.acc.auto.hph", day) == Decimal("0.0286")  # €/kWh


def test_the_day_before_a_change_keeps_the_old_rate(fr):
    assert fr.value("vat.reduced", date(2025, 7, 31)) == Decimal("0.055")
    assert fr.value("vat.reduced", date(2025, 8, 1)) == Decimal("0.2")
    assert fr.value("turpe.BTINFCU4.standard.cg", date(2025, 7, 31)) == Decimal("16.92")


def test_every_row_gives_its_source(fr):
    rows = [r for rows in fr.rows.values() for r in rows]
    assert len(rows) > 150 and all(r.source for r in rows)
    assert all("2025-40" in r.source for r in rows if r.name.startswith("turpe.") and r.valid_from == date(2025, 8, 1))


def test_no_rate_in_force_names_the_rate_and_day(fr):
    with pytest.raises(ValueError, match=r"no rate 'turpe.BTINFCU4.standard.cg' in force on 2020-01-01"):
        fr.value("turpe.BTINFCU4.standard.cg", date(2020, 1, 1))


def test_a_community_table_replaces_the_rows_of_its_names(tmp_path, fr):
    path = tmp_path / "own.csv"
    path.write_text(HEADER + "cta,2020-01-01,,10,%,our agreement\n")
    own = Tariffs.load(path)
    assert own.value("cta", date(2025, 7, 1)) == Decimal("0.10")
    assert own.value("accise", date(2025, 7, 1)) == fr.value("accise", date(2025, 7, 1))


@pytest.mark.parametrize("rows, message", [
    ("cta,2020-01-01,2022-01-01,10,%,a\ncta,2021-01-01,,12,%,b\n", "overlaps"),
    ("cta,2020-01-01,,ten,%,a\n", "line 2: value 'ten' is not a number"),
    ("cta,2020-01-01,,10,%,\n", "line 2: every row needs a source"),
    ("cta,2020-13-01,,10,%,a\n", "line 2: valid_from/valid_to must be YYYY-MM-DD"),
])
def test_a_bad_table_is_refused_with_its_line(tmp_path, rows, message):
    path = tmp_path / "own.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(ValueError, match=message):
        Tariffs(read_table(path))


def test_slots_by_local_start_season_and_offpeak_hours():
    minutes = np.array([21 * 60 + 30, 22 * 60, 5 * 60 + 30, 6 * 60, 12 * 60, 12 * 60])
    months = np.array([1, 1, 1, 1, 7, 3])
    codes = slot_codes(minutes, months, [11, 12, 1, 2, 3], "22:00-06:00")
    assert codes.tolist() == [0, 1, 1, 0, 2, 0]  # HPH, HCH, HCH, HPH, HPB, HPH
    assert slot_codes(minutes[:1], months[:1], [1], "12:00-14:00 21:00-22:00").tolist() == [1]
