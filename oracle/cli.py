"""`daisee-oracle`: run the oracle, show its status, or take one sample for an installation check."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import click

from daisee import cli
from oracle.settings import OracleSettings

config_option = cli.config_option("oracle")
main = cli.service_group("DAISEE meter oracle.")


@main.command()
@config_option
def run(config: Path | None) -> None:
    """Sample the meters, queue durably and submit batches until SIGTERM/SIGINT."""
    from oracle.service import Oracle

    oracle = Oracle(OracleSettings.load(config))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: oracle.stop())
    try:
        oracle.run()
    finally:
        oracle.close()


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(config: Path | None, as_json: bool) -> None:
    """Queue depth, last seq locally and on chain, last error, per meter."""
    from oracle.store import Store

    settings = OracleSettings.load(config)
    store = Store(settings.database)
    meters = store.meter_status()
    store.close()
    chain_seqs = _chain_seqs(settings, [m["meter_id"] for m in meters])
    for meter in meters:
        meter["chain_seq"] = chain_seqs[meter["meter_id"]]
    if as_json:
        click.echo(json.dumps(meters, indent=1))
        return
    if not meters:
        click.echo("no meter sampled yet")
    for m in meters:
        click.echo(
            f"meter {m['meter_id']}: queue {m['queue_depth']}, unconfirmed {m['unconfirmed']}, last seq "
            f"{m['last_seq']}, on chain {m['chain_seq']}, "
            f"quarantined {m['quarantined']}, {'STOPPED' if m['stopped'] else 'running'}, "
            f"last error: {m['last_error'] or '-'}"
        )


def _chain_seqs(settings: OracleSettings, meter_ids: list[int]) -> dict:
    from daisee.chain import Community

    try:
        community = Community.open(settings.chain)
        return {m: community.meter(m).seq for m in meter_ids}
    except Exception as exc:  # status must work with the chain down
        return dict.fromkeys(meter_ids, f"unreachable ({type(exc).__name__})")


@main.command("read-once")
@config_option
@click.option("--meter", "meter_id", type=int, default=None, help="Meter id (default: the first configured).")
def read_once(config: Path | None, meter_id: int | None) -> None:
    """Take one sample from the configured driver and print it (nothing is queued or sent)."""
    from oracle.clock import SystemClock
    from oracle.drivers import DriverUnavailable, make_driver
    from oracle.readings import MeterState, rejection

    settings = OracleSettings.load(config)
    meter = next((m for m in settings.meters if meter_id in (None, m.meter_id)), None)
    if meter is None:
        raise click.UsageError(f"meter {meter_id} is not in the config")
    clock = SystemClock()
    driver = make_driver(meter.driver, clock)
    try:
        sample = driver.read()
    except DriverUnavailable as exc:
        raise click.ClickException(f"meter {meter.meter_id}: {exc}") from exc
    finally:
        driver.close()
    reason = rejection(sample, MeterState(), meter.limits, clock.now())
    click.echo(json.dumps({"meter_id": meter.meter_id, "driver": meter.driver.kind, **sample.__dict__,
                           "valid": reason is None, "reason": reason}))


if __name__ == "__main__":
    main()
