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
    # Sign-in: text shown in the message the wallet signs, and lifetimes.
    domain: str = "daisee.local"
    challenge_ttl: int = Field(300, ge=10, le=3600)
    session_ttl: int = Field(900, ge=60, le=86_400)
    # Run the indexer inside the API process (off when a separate `daisee-viewer index` runs beside it).
    index: bool = True
