"""Small files the services keep or read: written whole or not at all, secrets only if private."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path


def write_atomic(path: Path, text: str, durable: bool = True, mode: int | None = None) -> None:
    """tmp + rename: a reader (or a restart after a crash) sees the old or the new file, never half.
    `durable` also fsyncs, for state that must survive a power cut (not for a health snapshot).
    `mode` (e.g. 0o600 for a secret) is the file's from its creation, whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    with os.fdopen(os.open(tmp, flags, 0o600 if mode is not None else 0o666), "w") as f:
        if mode is not None:
            os.fchmod(f.fileno(), mode)
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
