"""`daisee-viewer`: the indexer and the web app in one process (`serve`), or the indexer alone
beside it (`index`, with `index: false` in the serving process's config)."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import click
import uvicorn
from fastapi import FastAPI

from daisee import cli
from daisee.chain import Community
from viewer.api import create_app
from viewer.auth import Authenticator, role_reader
from viewer.indexer import Indexer
from viewer.settings import ViewerSettings
from viewer.store import Store

log = logging.getLogger("daisee.viewer")


def make_indexer(settings: ViewerSettings, store: Store, community: Community) -> Indexer:
    return Indexer(
        store, community, confirmations=settings.chain.confirmations,
        batch_blocks=settings.batch_blocks, reorg_depth=settings.reorg_depth,
    )


def build_app(settings: ViewerSettings) -> FastAPI:
    """The web app wired to the chain; its lifespan runs the indexer thread when `settings.index`."""
    store = Store(settings.database)
    community = Community.open(settings.chain)
    deployment = community.deployment
    auth = Authenticator(
        role_reader(settings.chain.rpc_url, deployment.exchange, deployment.abi["EnergyExchange"], settings.role_timeout),
        settings.domain, settings.challenge_ttl, settings.session_ttl, chain_id=deployment.chain_id,
        role_ttl=settings.role_ttl, role_timeout=settings.role_timeout,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        thread = None
        if settings.index:
            indexer = make_indexer(settings, store, community)
            thread = threading.Thread(
                target=indexer.run, args=(stop, settings.chain.poll_interval), name="viewer-indexer", daemon=True
            )
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=10)

    return create_app(store, auth, poll_interval=settings.chain.poll_interval, lifespan=lifespan,
                      forecast=settings.forecast, statements=settings.statements, references=settings.references, collective_dir=settings.collective_dir, relay_states=settings.relay_states, heavy_workers=settings.heavy_workers, heavy_queue=settings.heavy_queue)


class Server(uvicorn.Server):
    """uvicorn that, on SIGTERM/SIGINT or `stop()`, first ends the open event streams (which would
    otherwise keep the graceful shutdown waiting forever), then shuts down."""

    def __init__(self, settings: ViewerSettings):
        self.app = build_app(settings)
        super().__init__(uvicorn.Config(self.app, host=settings.host, port=settings.port, log_level="warning",
                                        timeout_graceful_shutdown=5))

    def handle_exit(self, sig, frame) -> None:
        self.app.state.closing.set()
        super().handle_exit(sig, frame)

    def stop(self) -> None:
        self.app.state.closing.set()
        self.should_exit = True


def load(config: Path | None, **overrides) -> ViewerSettings:
    return ViewerSettings.load(config, **{k: v for k, v in overrides.items() if v is not None})


def serve_in_thread(settings: ViewerSettings, timeout: float = 20.0) -> tuple[Server, threading.Thread]:
    """`build_app` served by uvicorn in a daemon thread of this process (the community demo, tests),
    returned once it accepts connections; stop it with `server.stop()`."""
    server = Server(settings)
    thread = threading.Thread(target=server.run, name="viewer", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError(f"viewer did not start on {settings.host}:{settings.port}")
        time.sleep(0.05)
    return server, thread


config_option = cli.config_option("viewer")
main = cli.service_group("DAISEE community viewer.")


@main.command()
@config_option
@click.option("--host", help="listen address (default from settings: 127.0.0.1)")
@click.option("--port", type=int, help="listen port (default from settings: 8080)")
def serve(config: Path | None, host: str | None, port: int | None) -> None:
    """Index the chain and serve the API and dashboard."""
    settings = load(config, host=host, port=port)
    log.info("viewer on http://%s:%s, chain %s, database %s", settings.host, settings.port,
             settings.chain.rpc_url, settings.database)
    Server(settings).run()


@main.command()
@config_option
def index(config: Path | None) -> None:
    """Only index (beside a `serve` whose settings say `index: false`)."""
    settings = load(config)
    store = Store(settings.database)
    indexer = make_indexer(settings, store, Community.open(settings.chain))
    stop = threading.Event()
    log.info("indexing %s into %s from block %s", settings.chain.rpc_url, settings.database, store.cursor())
    try:
        indexer.run(stop, settings.chain.poll_interval)
    except KeyboardInterrupt:
        stop.set()


@main.command()
@click.option("--account", "alias", required=True, help="keyfile alias (daisee-key import / ape accounts)")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="file holding the keyfile passphrase (default: the stored one or its environment variable)")
@click.option("--message", "message_file", type=click.File("r"), default="-", show_default=True,
              help="the sign-in message (EIP-4361) copied from the viewer; '-' reads standard input")
def sign(alias: str, passphrase_file: Path | None, message_file) -> None:
    """Sign a viewer sign-in message with a local key and print the signature to paste back.

    On the member's own machine: the key never leaves it. The message must be a Sign-In with Ethereum
    message for that key's address.
    """
    from eth_account.messages import encode_defunct

    from daisee.keys import load_signer
    from viewer.auth import SiweMessage, first_line

    text = message_file.read().replace("\r\n", "\n").strip()
    try:
        message = SiweMessage.from_message(text)
    except Exception as exc:  # noqa: BLE001 - siwe's parse errors
        raise click.ClickException(f"not a sign-in message (EIP-4361): {first_line(exc)}") from exc
    try:
        signer = load_signer(alias, passphrase_file)
    except (FileNotFoundError, PermissionError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if signer.address.lower() != message.address.lower():
        raise click.ClickException(f"this message signs in {message.address}, but account '{alias}' is {signer.address}")
    click.echo(f"Signing in to {message.domain} as {signer.address} (expires {message.expiration_time}).", err=True)
    click.echo(signer.sign_message(encode_defunct(text=message.prepare_message())).signature.to_0x_hex())


if __name__ == "__main__":
    main()
