"""What the relay believes, persisted in one atomic file write.

The supply recorded here is the *desired* supply, as decided by the contract's events; the board
may differ from it while in fail-safe. `last_bought`/`last_settled` hold, per member, the highest
purchase id already acted on: purchase ids only grow and a buyer has one open purchase at a time,
so that is enough to act on each id at most once however often a block range is read again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from daisee.files import write_atomic


class Supply(BaseModel):
    source: Literal["own", "seller"] = "own"
    channel: int
    seller: str | None = None
    purchase_id: int | None = None

    model_config = {"frozen": True}


class RelayState(BaseModel):
    exchange: str
    cursor: int  # last block whose events are all handled
    supply: dict[str, Supply] = {}
    last_bought: dict[str, int] = {}
    last_settled: dict[str, int] = {}
    # Wall-clock time of the last good chain read: a relay restarted during an outage continues its
    # fail-safe clock from here. None in a state saved before it was kept: taken as long ago.
    last_read: float | None = None

    @classmethod
    def load(cls, path: Path) -> "RelayState | None":
        return cls.model_validate_json(path.read_text()) if path.is_file() else None

    def save(self, path: Path) -> None:
        write_atomic(path, self.model_dump_json(indent=1))

