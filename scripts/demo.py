"""The community demo: `ape run demo [--members N] [--days D] [--seed S] [--speed X] [--network ...]`.

Starts (through ape-foundry) or joins a node, deploys the contracts, funds and registers a simulated
community, then runs the real oracle and relay services on it for an accelerated day while the
viewer serves the dashboard; prints a summary per member and how long each phase took.
`make demo ARGS="..."` runs it with everything installed.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand, network_option

from daisee.chain import Community
from daisee.cli import LOG_FORMAT
from daisee.config import ChainSettings
from daisee.keys import load_signer
from scripts.deploy import deploy, deploy_governance
from simulation.collective import allocate_run, allocation_steps, forecast_run, period_run
from viewer.store import Store
from simulation.community import dev_chain, establish, plan_community
from simulation.outcome import read_outcome, table
from simulation.world import LOCAL_UTC_OFFSET_H, Simulation

STARTED = time.monotonic()  # the script is loaded before ape connects (and starts anvil)
REPO = Path(__file__).resolve().parent.parent
DEFAULT_NETWORK = "ethereum:local:foundry"


class Phases:
    """Wall time of each phase, for the summary."""

    def __init__(self):
        self.times: dict[str, float] = {"ape + node": time.monotonic() - STARTED}
        self._at = time.monotonic()

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.times[name] = now - self._at
        self._at = now

    def lines(self) -> str:
        total = sum(self.times.values())
        return "\n".join([f"  {name:<12} {seconds:8.1f} s" for name, seconds in self.times.items()]
                         + [f"  {'total':<12} {total:8.1f} s"])


def operator_key(network, alias: str | None):
    """The operator's key: test account 0 on a local network, else an ape keyfile account."""
    if alias is None:
        if not network.is_local:
            raise click.UsageError("--account ALIAS (an ape account holding the operator key) is needed here")
        return accounts.test_accounts[0], _local_key(accounts.test_accounts[0])
    variable = f"APE_ACCOUNTS_{alias}_PASSPHRASE"
    if variable not in os.environ:
        os.environ[variable] = click.prompt(f"passphrase of {alias}", hide_input=True)
    deployer = accounts.load(alias)
    deployer.set_autosign(True, passphrase=os.environ[variable])  # the demo sends many transactions
    return deployer, load_signer(alias)


def _local_key(test_account):
    from eth_account import Account

    return Account.from_key(test_account.private_key)


def start_viewer(chain_settings: ChainSettings, database: Path, port: int, collective: Path):
    """The real viewer app (indexer thread included) on 127.0.0.1, in a thread of this process, reading
    the period's statements, their references and the forecast from the run's `collective` folder."""
    from viewer.cli import serve_in_thread
    from viewer.settings import ViewerSettings

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            taken, port = port, 0  # the OS picks a free one
    settings = ViewerSettings(chain=chain_settings, database=database, port=port,
                              statements=collective / "bill" / "statements",
                              references=collective / "commitment" / "references",
                              forecast=collective / "forecast" / "forecast.json", collective_dir=collective)
    if port == 0:
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            settings.port = free.getsockname()[1]
        click.echo(f"port {taken} is taken; the viewer uses {settings.port} instead")
    server, _ = serve_in_thread(settings)
    return server, f"http://127.0.0.1:{settings.port}"


def local_time(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, timezone(timedelta(hours=LOCAL_UTC_OFFSET_H)))
    return moment.strftime("%a %H:%M")


@click.command(cls=ConnectedProviderCommand)
@network_option(default=DEFAULT_NETWORK)
@click.option("--members", default=5, show_default=True, type=click.IntRange(2, 5000),
              help="households; 40 % producers (PV + battery), the rest consumers (battery)")
@click.option("--days", default=1.0, show_default=True, type=click.FloatRange(0, 30, min_open=True))
@click.option("--seed", default=1, show_default=True, help="same seed, same community and weather")
@click.option("--speed", default=720.0, show_default=True, type=click.FloatRange(0),
              help="simulated seconds per real second (720: a day in 2 minutes); 0: as fast as possible. "
                   "A chain whose clock cannot be set runs in its own time.")
@click.option("--step", default=900, show_default=True, type=click.IntRange(10, 3600),
              help="seconds between two meter readings")
@click.option("--meters-per-oracle", type=click.IntRange(1, 120),
              help="meters read by one oracle (gateway); default 1 up to 20 members, else one per street of 50")
@click.option("--account", "alias", help="ape account of the operator (needed off local networks)")
@click.option("--fallback-url", "fallback_urls", multiple=True, metavar="URL",
              help="another node of the same chain (repeatable): oracles, relays and the viewer spread over the "
                   "network's nodes, each with the others as fallbacks")
@click.option("--no-viewer", is_flag=True, help="do not serve the viewer (scripts, benchmarks)")
@click.option("--port", default=8080, show_default=True, help="viewer port on 127.0.0.1")
@click.option("--key", type=click.Choice(["default", "static", "multi-round"]), default="default", show_default=True,
              help="collective allocation key of the run's readings (static keys: equal shares)")
@click.option("--workdir", default=str(REPO / ".daisee" / "demo"), show_default=True, type=click.Path(file_okay=False),
              help="run directory (replaced): deployment, oracle queues, relay boards, viewer db, summary.json")
def cli(network, members, days, seed, speed, step, meters_per_oracle, alias, fallback_urls, no_viewer, port, key,
        workdir):
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    logging.getLogger("ape").propagate = False  # ape prints its own lines
    phases = Phases()
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)

    deployer, operator = operator_key(network, alias)
    # a fresh pair of contracts per run, so that the summary is this run's alone
    deployment = deploy(deployer, deployer.address, deployer.address, 100, 86_400, network.choice)
    # members' governance wired (a vote per member), kept under a single admin for the demo: a pilot
    deploy_governance(deployer, deployment, deployer.address, 86_400, 2 * 86_400, 86_400, 7 * 86_400, 20, 7_200,
                      hand_over=False)
    deployment.save(workdir / "deployment.json")
    chain_settings = ChainSettings(rpc_url=chain.provider.uri, fallback_urls=list(fallback_urls),
                                   deployment=workdir / "deployment.json", poll_interval=0.5)
    phases.done("deploy")
    click.echo(f"contracts on {network.choice} (chain {deployment.chain_id}): token {deployment.token}, "
               f"exchange {deployment.exchange}")

    community = Community.open(chain_settings)
    dev = dev_chain(community.w3)  # anvil: balances and clock set directly, keys from the seed
    plan = plan_community(members, seed, meters_per_oracle=meters_per_oracle,
                          secret=str(seed) if dev else secrets.token_hex(16))
    roster = establish(community, operator, plan, dev=dev)
    phases.done("community")
    producers = sum(m.role == "producer" for m in plan.members)
    click.echo(f"community: {producers} producers, {members - producers} consumers in {plan.streets} street(s), "
               f"{len(plan.oracles)} oracle(s), {plan.streets} relay board(s)")

    server = url = None
    if not no_viewer:
        # on the last node of the list: another node than the first street's services (ChainSettings.rotated)
        server, url = start_viewer(chain_settings.rotated(-1), workdir / "viewer.sqlite", port, workdir / "collective")
        click.echo(f"viewer: {url} (live while the day runs)")

    sim = Simulation(chain_settings, plan, roster, workdir, step=step, controls_chain=dev)
    steps = run_days(sim, days, speed)
    phases.done("simulation")

    outcome = read_outcome(community, roster, workdir / "viewer.sqlite", live_indexer=server is not None)
    phases.done("summary")
    shares, allocation = allocate_run(community, roster, step, workdir / "collective", key)
    outcome.with_allocation(shares)
    store = Store(workdir / "viewer.sqlite")  # the served viewer shows the allocation too
    store.set_allocation(shares)
    store.set_allocation_steps(allocation_steps(allocation, roster))
    period = period_run(community, operator, roster, allocation, workdir / "collective")
    forecast = forecast_run(workdir / "collective" / "forecast")
    phases.done("collective")
    held = outcome.held == outcome.owed
    click.echo("\n" + table(outcome))
    click.echo(f"\n{outcome.totals['skipped']} rule(s) skipped (no seller with energy, or no budget); the exchange "
               f"holds {outcome.held / 1e18:.4f} DSE, "
               f"{'exactly' if held else 'NOT'} what it owes (open purchases, members' balances, fees)")
    click.echo(f"collective self-consumption ({key} key): local share vs complement per member above; "
               f"conformity report and key file in {workdir / 'collective'}")
    click.echo(period_lines(period))
    click.echo(f"forecast for {forecast['day']} of a real-data community ({forecast['members']} households, "
               f"{forecast['producers']} roofs, two months of history; the simulated day is too short a history): "
               f"{forecast['pv_kwh']:.1f} kWh PV, {forecast['load_kwh']:.1f} kWh load, cheap local hours "
               f"{forecast['cheap']}; {forecast['path']}")
    click.echo("phases:\n" + phases.lines())
    summary = {"network": network.choice, "members": members, "days": days, "seed": seed, "steps": steps,
               "oracles": len(plan.oracles), "streets": plan.streets, "phases_s": phases.times, **outcome.as_dict(),
               "period": period, "forecast": forecast}
    (workdir / "summary.json").write_text(json.dumps(summary, indent=1))
    click.echo(f"summary: {workdir / 'summary.json'}")
    if not held:
        raise click.ClickException("the exchange's token balance differs from what it owes")
    if not period["verified"]:
        raise click.ClickException(f"the member's statement did not verify: {period['verification']}")
    if server is not None:
        serve_until_interrupted(server, url)


def period_lines(period: dict) -> str:
    """The period's end of the demo: statements, roots on chain, settlement, one verified statement."""
    tokens = 10**18
    lines = [f"period {period['period']} version {period['version']}: {period['statements']} statements "
             f"(HTML and PDF, each with its proof) in {period['statements_dir']}",
             f"  committed in block {period['commit_block']} (rules version {period['rules_version']}): " + ", ".join(
                 f"{name} {root[:10]}…" for name, root in period["roots"].items()),
             f"  local energy settled in tokens: {period['collected'] / tokens:.4f} DSE collected, "
             f"{period['paid'] / tokens:.4f} paid of {period['settlement_total'] / tokens:.4f} due"]
    lines += [f"  not collected: {failure}" for failure in period["not_collected"]]
    lines.append(f"  member {period['verified_member']}'s statement "
                 f"{'verified against the chain' if period['verified'] else 'NOT verified'}: {period['verification']}")
    return "\n".join(lines)


def run_days(sim: Simulation, days: float, speed: float) -> int:
    """Step the world through `days`, paced to `speed` where the simulation sets the chain's clock."""
    sim.begin()
    step = sim.time.step
    steps = max(1, round(days * 86_400 / step))
    pace = step / speed if speed and sim.time.controls_chain else 0.0
    if not sim.time.controls_chain:
        click.echo(f"the chain keeps its own clock: one step per {step:g} s of chain time")

    def status(_=None) -> str:
        switches = sum(r.board.switches for r in sim.relays.values())
        return f"{local_time(sim.time.now)}, {switches} relay switches"

    tty = sys.stdout.isatty()
    with click.progressbar(range(steps), label=f"{steps} steps of {step / 60:g} min", item_show_func=status) as bar:
        for done in bar:
            started = time.monotonic()
            sim.step()
            if not tty and (done + 1) % max(1, steps // 8) == 0:  # a log, not a bar, when piped
                click.echo(f"  step {done + 1}/{steps}: {status()}")
            time.sleep(max(0.0, pace - (time.monotonic() - started)))
    sim.close()
    return steps


def serve_until_interrupted(server, url: str) -> None:
    # Ctrl-C ends the demo normally (ape would turn it into exit status 130).
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"\nviewer: {url} (Ctrl-C to stop)")
    stop.wait()
    server.should_exit = True
    click.echo("viewer stopped")
