"""Service keys as ape keyfiles: `$APE_DATA_FOLDER` (default ~/.ape) / accounts/<alias>.json, the
encrypted JSON of eth-account's `Account.encrypt`, chmod 600. `daisee-key import` writes them on a
Pi without the Ape toolchain; `ape accounts` reads and writes the same files on a development machine.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from daisee.files import read_private, write_atomic


def ape_data_folder() -> Path:
    return Path(os.environ.get("APE_DATA_FOLDER", Path.home() / ".ape"))


def keyfile_path(alias: str) -> Path:
    """accounts/<alias>.json, refusing an alias that is not one plain name or that looks like a key
    pasted in its place (ape's own rule: no hex string of 42 characters or more)."""
    if not alias or Path(alias).name != alias or alias.startswith("."):
        raise ValueError(f"alias {alias!r} must be a single file name")
    if len(alias) >= 42 and all(c in "0123456789abcdefABCDEFx" for c in alias):
        raise ValueError("a long hex string is not an alias (is it a key? it would show in `ps`)")
    return ape_data_folder() / "accounts" / f"{alias}.json"


def passphrase_env(alias: str) -> str:
    """ape's own variable for the passphrase of `alias`."""
    return f"APE_ACCOUNTS_{alias}_PASSPHRASE"


def stored_passphrase(alias: str, passphrase_file: Path | None = None) -> str | None:
    """The passphrase of `alias` from `APE_ACCOUNTS_<alias>_PASSPHRASE`, else from `passphrase_file`,
    which must not be readable by group or others; None when neither is given."""
    passphrase = os.environ.get(passphrase_env(alias))
    if passphrase is None and passphrase_file is not None:
        passphrase = read_private(passphrase_file)
    return passphrase


def load_signer(alias: str, passphrase_file: Path | None = None) -> LocalAccount:
    """Decrypt the keyfile `alias` (made by `daisee-key import` or `ape accounts generate/import`)."""
    keyfile = keyfile_path(alias)
    if not keyfile.is_file():
        raise FileNotFoundError(f"no account '{alias}' at {keyfile} (daisee-key import {alias})")
    passphrase = stored_passphrase(alias, passphrase_file)
    if passphrase is None:
        raise PermissionError(f"no passphrase for account '{alias}': set {passphrase_env(alias)} or passphrase_file")
    return Account.from_key(Account.decrypt(json.loads(keyfile.read_text()), passphrase))


def write_keyfile(alias: str, account: LocalAccount, passphrase: str, iterations: int | None = None) -> Path:
    """Store `account` as the keyfile `alias` (replacing it), private from its first byte.
    `iterations` lowers the scrypt cost (default, ape's: ~1 s to decrypt) where keys are throwaway
    and decrypted often: tests, simulated meters."""
    path = keyfile_path(alias)
    write_atomic(path, json.dumps(Account.encrypt(account.key, passphrase, iterations=iterations)), mode=0o600)
    return path


def keyfile_address(path: Path) -> str:
    """The checksum address a keyfile declares (read without decrypting)."""
    return to_checksum_address(json.loads(path.read_text())["address"])


def stored_accounts() -> dict[str, Path]:
    """alias -> keyfile, in the current data folder."""
    folder = ape_data_folder() / "accounts"
    return {p.stem: p for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}
