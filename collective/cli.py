"""`daisee-collective`: what a PMO's operator runs each period.

    daisee-collective dataset --month 2025-07 --out month/       # a real-data month to try things on
"""
from __future__ import annotations

from pathlib import Path

import click

from collective.curves import Curves


def write_wide_csv(curves: Curves, path: Path, tz: str = "Europe/Paris") -> Path:
    """Our own simple format: `timestamp` (ISO 8601 with the local offset, end of interval) then one
    column per meter, energy per interval in kWh (what `collective.io` reads back)."""
    frame = curves.frame()
    frame.index = frame.index.tz_convert(tz).map(lambda t: t.isoformat())
    frame.index.name = "timestamp"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, float_format="%.6f")
    return path


@click.group()
def main():
    """Collective self-consumption: conformity, allocation (and, next, billing and settlement)."""


@main.command()
@click.option("--month", default="2025-07", show_default=True, help="local calendar month, YYYY-MM")
@click.option("--consumers", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--producers", default=2, show_default=True, type=click.IntRange(1, 1_000))
@click.option("--step", type=click.Choice(["15min", "30min"]), default="30min", show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("collective-month"),
              show_default=True)
def dataset(month, consumers, producers, step, seed, out):
    """Write a month of a community built from real data (see collective.dataset) as two wide CSVs."""
    from collective.dataset import community_month

    m = community_month(consumers=consumers, producers=producers, month=month, step=step, seed=seed)
    for name, curves in (("production", m.production), ("consumption", m.consumption)):
        path = write_wide_csv(curves, out / f"{name}.csv")
        click.echo(f"{path}: {len(curves.meters)} meters x {len(curves.index)} intervals, "
                   f"{sum(curves.totals().values()):,.1f} kWh")
