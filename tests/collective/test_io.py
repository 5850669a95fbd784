"""Readers into the long format: the documented columns, what a bad file says, and the
MeterReading resampling (hand-computed, and energy conserved for any readings)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collective.io import LONG_COLUMNS, InputError, concat, read_enedis, read_meter_readings, read_wide

DATA = Path(__file__).parent / "data"
HEAD = ("Identifiant PRM;Date de début;Date de fin;Grandeur physique;Grandeur metier;Etape metier;Unite;Horodate;"
        "Valeur;Nature;Pas")
GOOD = "30000000000001;2025-01-01;2025-01-31;PA;CONS;BEST;W;2025-01-15T00:30:00+01:00;1200;B;PT30M"


def enedis_line(**fields) -> str:
    """GOOD with some of its fields replaced (by header name)."""
    values = dict(zip(HEAD.split(";"), GOOD.split(";")))
    values.update(fields)
    return ";".join(values.values())


def test_enedis_file_gives_the_long_format_in_utc_kwh():
    frame = read_enedis(DATA / "enedis_2025-03-30_PT30M.csv")
    assert list(frame.columns) == list(LONG_COLUMNS)
    assert str(frame["end"].dtype) == "datetime64[ns, UTC]" and frame["kwh"].dtype == np.float64
    assert len(frame) == 46  # spring day: 23 hours
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["meter"] == "30001234567890:consumption" and first["row"] == 2
    assert first["end"] == pd.Timestamp("2025-03-29T23:30:00Z")  # 00:30+01:00
    assert first["kwh"] == pytest.approx(300 * 0.5 / 1000)  # 300 W over 30 min
    assert second["kwh"] == pytest.approx(353.5 * 0.5 / 1000)  # decimal comma
    assert (first["unit"], first["step"], first["quality"], first["flag"]) == ("W", pd.Timedelta("30min"), "BRUT", "")
    # the hour that does not exist: 02:00 local is skipped, 03:00+02:00 follows 01:30+01:00 by 30 min
    assert (frame["end"].diff().dropna() == pd.Timedelta("30min")).all()


def test_enedis_units_quality_and_meter_without_direction(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("\n".join([
        "Identifiant PRM;Horodate;Valeur;Unite;Pas;Nature",
        "P1;2025-01-15T00:15:00+01:00;2;kW;PT15M;CORRIGÉ",
        "P1;2025-01-15T00:30:00Z;250;Wh;;E",
        "P1;2025-01-15T00:45:00+01:00;0,4;kWh;PT15M;",
        "P1;2025-01-15T01:00:00+01:00;;W;PT15M;R",
    ]) + "\n", encoding="utf-8")
    frame = read_enedis(path)
    assert frame["meter"].tolist() == ["P1"] * 4  # no Grandeur metier column: the PRM itself
    np.testing.assert_allclose(frame["kwh"], [2 * 0.25, 0.25, 0.4, np.nan])
    assert frame["quality"].tolist() == ["CORRIGE", "ESTIME", "", "BRUT"]
    assert frame["unit"].tolist() == ["kW", "Wh", "kWh", "W"]
    assert frame["step"].isna().tolist() == [False, True, False, False]
    assert frame["end"][1] == pd.Timestamp("2025-01-15T00:30:00Z")


def test_enedis_windows_1252_export_is_read(tmp_path):
    path = tmp_path / "cp1252.csv"
    path.write_bytes(("\n".join([HEAD, GOOD]) + "\n").encode("cp1252"))  # "début" in one byte
    assert read_enedis(path)["kwh"].tolist() == [pytest.approx(0.6)]


def test_wide_file_gives_one_meter_per_column():
    frame = read_wide(DATA / "wide_2025-10-26_PT30M.csv")
    assert list(frame.columns) == list(LONG_COLUMNS)
    assert sorted(frame["meter"].unique()) == ["house-1", "house-2"]
    assert len(frame) == 2 * 50  # autumn day: 25 hours
    house = frame[frame["meter"] == "house-1"]
    assert house["row"].tolist() == list(range(2, 52))
    assert house["end"].iloc[0] == pd.Timestamp("2025-10-25T22:30:00Z")
    assert house["kwh"].iloc[0] == 0.075 and (frame["unit"] == "kWh").all() and frame["step"].isna().all()


def test_wide_empty_cell_is_kept_as_nan(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("timestamp,a,b\n2025-01-15T00:30:00+01:00,0.5,\n2025-01-15T01:00:00+01:00,0.25,1\n")
    frame = read_wide(path)
    assert frame.loc[frame["meter"] == "b", "kwh"].isna().tolist() == [True, False]


# ---------------------------------------------------------------- what a bad file says

ENEDIS_CORPUS = [
    ("empty file", "", 1, "empty file"),
    ("blank lines only", "\n  \n", 1, "empty file"),
    ("header only", HEAD + "\n", 1, "no data rows"),
    ("wrong separator", HEAD.replace(";", ",") + "\n" + GOOD.replace(";", ","), 1,
     "separator: expected ';', found ','"),
    ("missing column", HEAD.replace(";Valeur", "") + "\n" + GOOD.replace(";1200", ""), 1, "missing column 'Valeur'"),
    ("field count", "\n".join([HEAD, GOOD, GOOD + ";extra"]), 3, "12 fields, the header has 11"),
    ("unparsable date", "\n".join([HEAD, GOOD, enedis_line(Horodate="15/01/2025 01:00")]), 3, "unparsable date"),
    ("impossible date", "\n".join([HEAD, enedis_line(Horodate="2025-02-30T01:00:00+01:00")]), 2, "unparsable date"),
    ("date without offset", "\n".join([HEAD, GOOD, enedis_line(Horodate="2025-01-15T01:00:00")]), 3,
     "date without UTC offset"),
    ("unknown unit", "\n".join([HEAD, enedis_line(Unite="VA")]), 2, "unknown unit"),
    ("value not a number", "\n".join([HEAD, GOOD, GOOD, enedis_line(Valeur="12a")]), 4, "Valeur is not a number"),
    ("infinite value", "\n".join([HEAD, enedis_line(Valeur="inf")]), 2, "Valeur is not a number"),
    ("bad step", "\n".join([HEAD, enedis_line(Pas="30min")]), 2, "step (Pas) is not an ISO 8601 duration"),
    ("power without step", "\n".join([HEAD, enedis_line(Pas="")]), 2, "no step (Pas)"),
    ("unknown nature", "\n".join([HEAD, enedis_line(Nature="X")]), 2, "unknown Nature"),
    ("unknown direction", "\n".join([HEAD, enedis_line(**{"Grandeur metier": "STOCK"})]), 2, "unknown Grandeur metier"),
    ("empty PRM", "\n".join([HEAD, enedis_line(**{"Identifiant PRM": ""})]), 2, "empty Identifiant PRM"),
]
WIDE_CORPUS = [
    ("empty file", "", 1, "empty file"),
    ("wrong separator", "timestamp;a\n2025-01-15T00:30:00+01:00;1\n", 1, "separator: expected ',', found ';'"),
    ("no timestamp column", "time,a\n2025-01-15T00:30:00+01:00,1\n", 1, "first column must be 'timestamp'"),
    ("meter twice", "timestamp,a,a\n2025-01-15T00:30:00+01:00,1,2\n", 1, "a meter appears twice"),
    ("unnamed meter", "timestamp,a,\n2025-01-15T00:30:00+01:00,1,2\n", 1, "must name a meter"),
    ("field count", "timestamp,a\n2025-01-15T00:30:00+01:00,1\n2025-01-15T01:00:00+01:00\n", 3, "1 fields"),
    ("date without offset", "timestamp,a\n2025-01-15T00:30:00,1\n", 2, "date without UTC offset"),
    ("value not a number", "timestamp,a\n2025-01-15T00:30:00+01:00,1\n2025-01-15T01:00:00+01:00,1;5\n", 3,
     "kWh of a is not a number"),
]


@pytest.mark.parametrize("reader, content, row, reason", [
    *((read_enedis, c, r, why) for _, c, r, why in ENEDIS_CORPUS),
    *((read_wide, c, r, why) for _, c, r, why in WIDE_CORPUS),
], ids=[f"enedis-{n}" for n, *_ in ENEDIS_CORPUS] + [f"wide-{n}" for n, *_ in WIDE_CORPUS])
def test_bad_file_names_file_row_and_reason(tmp_path, reader, content, row, reason):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        reader(path)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.file, error.row) == (str(path), row) and reason in error.reason
    assert str(path) in str(error) and f"row {row}" in str(error) and reason in str(error)


def reading(meter=7, seq=1, timestamp=0, produced=0, consumed=0) -> dict:
    return {"meterId": meter, "seq": seq, "timestamp": timestamp, "producedWh": produced, "consumedWh": consumed}


@pytest.mark.parametrize("events, row, reason", [
    ([], 1, "no MeterReading events"),
    ([reading(), {"meterId": 7, "seq": 2, "timestamp": 1800, "consumedWh": 5}], 2, "missing field 'producedWh'"),
    ([reading(), reading(seq=2, timestamp=1800, consumed=-5)], 2, "non-negative integers"),
    ([reading(), reading(seq=2, timestamp=1800.5)], 2, "non-negative integers"),
    ([reading(), reading(seq=2, timestamp=600, consumed=5)], 1, "no interval has both ends"),
], ids=["empty", "missing field", "negative", "float", "too short"])
def test_bad_meter_readings_name_position_and_reason(events, row, reason):
    with pytest.raises(InputError) as caught:
        read_meter_readings(events, "30min", source="chain")
    assert (caught.value.file, caught.value.row) == ("chain", row) and reason in caught.value.reason


def test_chain_events_are_read_and_foreign_or_undecodable_ones_refused():
    from daisee.chain import ChainEvent

    def event(args, name="MeterReading", error=None):
        return ChainEvent(name, args, "0xexchange", 1, "0xblock", "0xtx", 0, error)

    frame = read_meter_readings([event(reading()), event(reading(seq=2, timestamp=1800, consumed=90))], "30min")
    assert frame["kwh"].tolist() == [0.09]
    with pytest.raises(InputError, match="row 2: not a MeterReading event: Deposited"):
        read_meter_readings([event(reading()), event({}, name="Deposited")], "30min")
    with pytest.raises(InputError, match="row 1: undecodable event: bad topics"):
        read_meter_readings([event({}, error="bad topics")], "30min")


# ---------------------------------------------------------------- MeterReading resampling

def test_meter_readings_hand_computed():
    # consumption counter 0 -> 100 -> 400 Wh at 00:00, 00:20, 01:10 UTC; production 0 -> 0 -> 5 Wh
    events = [reading(seq=1, timestamp=0), reading(seq=2, timestamp=1200, consumed=100),
              reading(seq=3, timestamp=4200, consumed=400, produced=5)]
    frame = read_meter_readings(events, "30min", source="chain")
    cons = frame[frame["meter"] == "7:consumption"]
    # counter at 00:30 = 100 + 300 x 10/50 = 160; at 01:00 = 100 + 300 x 40/50 = 340; none at 01:30 (> 01:10)
    assert cons["end"].tolist() == [pd.Timestamp("1970-01-01T00:30Z"), pd.Timestamp("1970-01-01T01:00Z")]
    np.testing.assert_allclose(cons["kwh"], [0.160, 0.180])
    prod = frame[frame["meter"] == "7:production"]
    np.testing.assert_allclose(prod["kwh"], [0.001, 0.003])  # 5 x 1800/3000 = 3 at 01:00, 1 at 00:30
    # the interval ending 00:30 was interpolated across 50 min of silence (> the 30 min step): estimated;
    # the one ending 01:00 too (its end lies in the same 50 minutes)
    assert cons["quality"].tolist() == ["ESTIME", "ESTIME"]
    assert cons["row"].tolist() == [3, 3] and (frame["file"] == "chain").all()
    assert (frame["unit"] == "Wh").all() and (frame["step"] == pd.Timedelta("30min")).all()


def test_meter_readings_consumer_gives_one_meter_and_last_reading_of_an_instant_counts():
    events = [reading(meter=3, seq=1, timestamp=0, consumed=10), reading(meter=3, seq=2, timestamp=900, consumed=20),
              reading(meter=3, seq=3, timestamp=900, consumed=25),  # same second: the last one counts
              reading(meter=3, seq=4, timestamp=1800, consumed=40)]
    frame = read_meter_readings(events, "15min")
    assert frame["meter"].unique().tolist() == ["3:consumption"]
    np.testing.assert_allclose(frame["kwh"], [0.015, 0.015])
    assert (frame["quality"] == "").all()


def test_counter_going_backwards_is_flagged_not_fixed():
    # a meter replaced at 00:45: its counter restarts from 0
    events = [reading(seq=1, timestamp=0, consumed=1000), reading(seq=2, timestamp=1800, consumed=1300),
              reading(seq=1, timestamp=2700, consumed=0), reading(seq=2, timestamp=3600, consumed=100),
              reading(seq=3, timestamp=5400, consumed=400)]
    frame = read_meter_readings(events, "30min")
    assert frame["flag"].tolist() == ["", "COUNTER_BACKWARDS", ""]
    np.testing.assert_allclose(frame["kwh"], [0.3, -1.2, 0.3])  # 1300 -> 100 as computed, not repaired


@settings(max_examples=200, deadline=None)
@given(steps=st.integers(1, 40), step_min=st.sampled_from([15, 30]), first=st.integers(0, 10**9), data=st.data())
def test_resampling_conserves_energy_between_first_and_last_reading(steps, step_min, first, data):
    """Readings at two grid instants and anywhere between: the intervals cover the span exactly
    and add up to the counter's change; none ends after the last reading."""
    step = step_min * 60
    t0 = 1_700_000_000 // step * step
    t1 = t0 + steps * step
    inner = data.draw(st.lists(st.integers(t0 + 1, t1 - 1), max_size=30, unique=True))
    times = sorted({t0, t1, *inner})
    counter = first + np.cumsum([0] + data.draw(st.lists(st.integers(0, 5000), min_size=len(times) - 1,
                                                          max_size=len(times) - 1)))
    events = [reading(seq=i + 1, timestamp=t, consumed=int(c)) for i, (t, c) in enumerate(zip(times, counter))]
    cons = read_meter_readings(events, f"{step_min}min")
    assert cons["meter"].unique().tolist() == ["7:consumption"]
    assert len(cons) == steps and cons["end"].max() == pd.Timestamp(t1, unit="s", tz="UTC")
    assert cons["kwh"].sum() * 1000 == pytest.approx(counter[-1] - counter[0], abs=1e-6)
    assert (cons["kwh"] >= -1e-12).all() and (cons["flag"] == "").all()


def test_concat_keeps_str_columns_categorical():
    a = read_meter_readings([reading(), reading(seq=2, timestamp=1800, consumed=10)], "30min")
    b = read_meter_readings([reading(meter=9), reading(meter=9, seq=2, timestamp=1800, consumed=10)], "30min")
    both = concat([a, b])
    assert list(both.columns) == list(LONG_COLUMNS) and len(both) == 2
    assert isinstance(both["meter"].dtype, pd.CategoricalDtype)
    assert both["meter"].tolist() == ["7:consumption", "9:consumption"]
