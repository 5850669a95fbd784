"""The simulated community's readings through the collective self-consumption pipeline, as a PMO
would run it on any real community: the exchange's MeterReading events → conformity → allocation
with the chosen key (collective/), written to the run directory; each member's local share and
complement for the demo's summary."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from collective.allocate import DefaultDynamic, Static, allocate, key_file, net_behind_the_meter
from collective.check import CheckReport, CheckSettings, check
from collective.curves import Curves
from collective.io import read_meter_readings
from daisee.chain import Community, EventReader
from simulation.community import Member


def allocate_run(community: Community, members: list[Member], step_s: int, out: Path,
                 key: str = "default") -> dict[str, dict]:
    """Per member address: {"own_use_wh", "local_wh", "complement_wh"} over the run, its own
    production netted behind the meter first. `key`: "default" (dynamic), "static" or "multi-round"
    (equal shares). Writes the conformity report and the grid operator's key file into `out`."""
    reader = EventReader(community, ["MeterReading"])
    events = reader.fetch(community.deployment.deployed_block, community.w3.eth.block_number)
    step = pd.Timedelta(seconds=step_s)
    readings = read_meter_readings(events, step)
    out.mkdir(parents=True, exist_ok=True)
    # The run covers parts of days: its report shows those days' missing intervals as gaps, honestly.
    report = check(readings, CheckSettings(step=step))
    (out / "conformity.json").write_text(report.to_json(indent=1))

    production, consumption = run_curves(readings, report)
    sites = {m: m.replace(":production", ":consumption") for m in production.meters
             if m.replace(":production", ":consumption") in consumption.meters}
    netted = net_behind_the_meter(production, consumption, sites)
    result = allocate(netted.production, netted.consumption, _key(key, netted.consumption.meters))
    key_file(result).write(out / "keys.csv")

    owner = {m.meter_id: m.plan.address for m in members}
    totals = result.consumer_totals()
    own_use = dict(zip(netted.own_use.meters, netted.own_use.kwh.sum(axis=0)))
    shares = {}
    for meter, row in totals.iterrows():
        meter_id = int(meter.split(":")[0])
        shares[owner[meter_id]] = {
            "own_use_wh": round(1000 * own_use.get(meter.replace(":consumption", ":production"), 0.0)),
            "local_wh": round(1000 * row["autocons"]),
            "complement_wh": round(1000 * row["complement"]),
        }
    return shares


def _key(name: str, consumers: tuple[str, ...]):
    if name == "default":
        return DefaultDynamic()
    equal = {c: 1 / len(consumers) for c in consumers}
    return Static(equal, max_rounds=1 if name == "static" else None)


def run_curves(readings: pd.DataFrame, report: CheckReport) -> tuple[Curves, Curves]:
    """Production and consumption over the run (the intervals any meter's readings cover), with
    `check`'s clean values: a reading it flagged as an error is out, and filled where it could be. A
    value still missing counts as 0, as an absent member's does, so one meter's outage or late start
    never stops or shortens the others' allocation; the report names those intervals."""
    frame = report.curves.frame()
    frame = frame.loc[(frame.index >= readings["end"].min()) & (frame.index <= readings["end"].max())].fillna(0.0)
    full = Curves.from_frame(frame, report.curves.step)
    return (full.select([m for m in full.meters if m.endswith(":production")]),
            full.select([m for m in full.meters if m.endswith(":consumption")]))
