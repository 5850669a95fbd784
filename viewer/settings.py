"""Viewer configuration: YAML file + `DAISEE_VIEWER_*` environment variables (see viewer/example.yaml)."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from daisee.config import ServiceSettings


class ViewerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DAISEE_VIEWER_", env_nested_delimiter="__", extra="forbid")

    database: Path = Path(".daisee/viewer.sqlite")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # Largest block range asked of the node in one eth_getLogs call.
    batch_blocks: int = Field(2000, ge=1, le=100_000)
    # How many recent indexed blocks keep their hash, i.e. the deepest reorg that is repaired in place.
    reorg_depth: int = Field(64, ge=1, le=10_000)
    # Sign-in (EIP-4361): the domain the wallet shows and checks (the host:port users open), lifetimes.
    domain: str = "daisee.local"
    challenge_ttl: int = Field(300, ge=10, le=3600)
    session_ttl: int = Field(900, ge=60, le=86_400)
    # Roles are read from the contract at sign-in and again after `role_ttl` s; a node silent for
    # `role_timeout` s gives a 503 (the signed message stays usable).
    role_ttl: float = Field(30, ge=0, le=3600)
    role_timeout: float = Field(3, gt=0, le=30)
    # Heavy public queries (series, feed) running at once, and waiting before a 503.
    heavy_workers: int = Field(2, ge=1, le=32)
    heavy_queue: int = Field(64, ge=1, le=10_000)
    # Tomorrow's forecast, written by the forecasting job (absent: /api/forecast answers 404).
    forecast: Path = Path(".daisee/forecast.json")
    # Members' statements, written by the billing job (`daisee-collective bill`): <statements>/<member id>.json,
    # found through the member's reference (its entry.member).
    statements: Path = Path(".daisee/statements")
    # Members' statement references (`daisee-collective commit`'s references/*.json: leaf, salt, proof).
    references: Path = Path(".daisee/commit/references")
    # The PMO's collective folder (`conformity.json` from collective check, `keys.csv` for the grid
    # operator): absent, /api/collective/* answer 404.
    collective_dir: Path | None = None
    # State files of the relays the PMO follows (relay `state_file`s reachable from this host).
    relay_states: list[Path] = []
    # Run the indexer inside the API process (off when a separate `daisee-viewer index` runs beside it).
    index: bool = True
