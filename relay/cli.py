"""`daisee-relay`: run the service, show its state, or set a channel by hand (installer override)."""
from __future__ import annotations

import fcntl
import getpass
import json
import logging
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import click
from web3 import Web3

from daisee import cli
from daisee.files import read_json
from relay.board import make_board
from relay.config import RelaySettings
from relay.handler import own_supply
from relay.state import RelayState, Supply

log = logging.getLogger("daisee.relay")


@click.group()
@cli.config_option("relay")
@cli.log_level_option
@click.pass_context
def main(ctx: click.Context, config: Path | None, log_level: str) -> None:
    """DAISEE relay: switches each member's supply as the exchange decides."""
    cli.setup_logging(log_level)
    try:
        ctx.obj = RelaySettings.load(config)
    except Exception as exc:
        raise click.ClickException(f"bad configuration: {exc}") from exc


@contextmanager
def board_lock(config: RelaySettings, wait: bool):
    """One process drives the board at a time: `run` holds this lock, `set` refuses while it is held."""
    path = config.state_file.with_name(config.state_file.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise click.ClickException("the relay service is running (stop it first: systemctl stop daisee-relay)")
        yield


@main.command()
@click.pass_obj
def run(config: RelaySettings) -> None:
    """Follow the exchange and switch the board until SIGTERM/SIGINT."""
    from relay.service import Relay

    with board_lock(config, wait=False):
        relay = Relay(config)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        log.info("relay for %d member(s) on %s, exchange %s, from block %d", len(config.members),
                 config.chain.rpc_url, relay.state.exchange, relay.state.cursor + 1)
        relay.run(stop)
        relay.board.close()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def state(config: RelaySettings, as_json: bool) -> None:
    """Print the cursor, each member's supply as decided, and the simulated board's pins."""
    saved = RelayState.load(config.state_file)
    board = read_json(config.board_file) if config.backend == "simulated" else None
    if as_json:
        click.echo(json.dumps({"state": saved.model_dump() if saved else None, "board": board}, indent=1))
        return
    if saved is None:
        click.echo(f"no state yet at {config.state_file}")
    else:
        click.echo(f"exchange {saved.exchange}, handled up to block {saved.cursor}")
        for member in config.members:
            s = saved.supply.get(member) or own_supply(config, member)
            detail = f" from {s.seller} (purchase {s.purchase_id})" if s.source == "seller" else ""
            click.echo(f"{member}: {s.source} on channel {s.channel}{detail}")
    if board is not None:
        click.echo("pins " + " ".join(f"{pin}={level}" for pin, level in board["pins"].items()))


@main.command("set")
@click.argument("member")
@click.argument("target")
@click.pass_obj
def set_(config: RelaySettings, member: str, target: str) -> None:
    """Installer override: put MEMBER on TARGET ('own' or a wired seller's address), with the service stopped.

    The service puts the board back where the contract's events say when it starts again."""
    member = Web3.to_checksum_address(member)
    if member not in config.members:
        raise click.ClickException(f"{member} is not wired to this board")
    if target == "own":
        supply = own_supply(config, member)
    else:
        seller = Web3.to_checksum_address(target)
        channel = config.members[member].sellers.get(seller)
        if channel is None:
            raise click.ClickException(f"{seller} is not a wired seller of {member}")
        supply = Supply(source="seller", channel=channel, seller=seller)
    with board_lock(config, wait=False):
        board = make_board(config)
        saved = RelayState.load(config.state_file)
        board.assume({m: saved.supply[m] if saved and m in saved.supply else own_supply(config, m)
                      for m in config.members})
        reason = f"manual override by {getpass.getuser()}"
        changed = board.switch(member, supply, reason)
        log.warning("%s: %s -> %s on channel %d%s", reason, member, supply.source, supply.channel,
                    "" if changed else " (already so)")


if __name__ == "__main__":
    sys.exit(main())
