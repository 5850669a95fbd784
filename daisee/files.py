"""Small files the services keep or read: written whole or not at all, secrets only if private."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path


def write_atomic(path: Path, text: str, durable: bool = True) -> None:
    """tmp + rename: a reader (or a restart after a crash) sees the old or the new file, never half.
    `durable` also fsyncs, for state that must survive a power cut (not for a health snapshot)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def read_private(path: Path) -> str:
    """The stripped content of a secret file, refused if group or others may read it."""
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(f"{path} is readable by others: chmod 600 it")
    return path.read_text().strip()
