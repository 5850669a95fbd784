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
from viewer.auth import Authenticator, contract_operator_check
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
    auth = Authenticator(
        contract_operator_check(community.exchange), settings.domain, settings.challenge_ttl, settings.session_ttl
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

    return create_app(store, auth, poll_interval=settings.chain.poll_interval, lifespan=lifespan)


def load(config: Path | None, **overrides) -> ViewerSettings:
    return ViewerSettings.load(config, **{k: v for k, v in overrides.items() if v is not None})


def serve_in_thread(settings: ViewerSettings, timeout: float = 20.0) -> tuple[uvicorn.Server, threading.Thread]:
    """`build_app` served by uvicorn in a daemon thread of this process (the community demo, tests),
    returned once it accepts connections; stop it with `server.should_exit = True`."""
    server = uvicorn.Server(uvicorn.Config(build_app(settings), host=settings.host, port=settings.port,
                                           log_level="warning"))
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
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_level="warning")


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


if __name__ == "__main__":
    main()
