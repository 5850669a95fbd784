"""A statement reference as `daisee-collective commit` writes it (OpenZeppelin StandardMerkleTree
leaves, sorted-pair hashing), built here independently for the viewer's tests."""
from __future__ import annotations

import os

from eth_abi import encode
from eth_utils import keccak

STATEMENT_TYPES = ["bytes32", "address", "bytes32", "uint256", "uint256", "bytes32"]


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(b"".join(sorted((a, b))))


def reference(account: str, period: int = 202611, tamper: bool = False, version: int = 1) -> dict:
    """`account`'s reference in a three-leaf tree: root = H(H(leaf, a), b), proof [a, b]."""
    entry = {"salt": os.urandom(32), "account": account, "member": "meter-7", "member_id": keccak(text="meter-7"),
             "debit": 1234 * 10**14, "credit": 0, "statement": keccak(text="statement json")}
    leaf = keccak(keccak(encode(STATEMENT_TYPES, [entry["salt"], account, entry["member_id"], entry["debit"],
                                                  entry["credit"], entry["statement"]])))
    a, b = keccak(text="another leaf"), keccak(text="a third leaf")
    root = _pair(_pair(leaf, a), b)
    if tamper:
        entry["debit"] -= 1  # the member's figure changed after the commit
    hexed = {k: "0x" + v.hex() if isinstance(v, bytes) else str(v) if isinstance(v, int) else v for k, v in entry.items()}
    return {"period": period, "version": version, "chain_id": 1337, "ledger": "0x" + "1" * 40,
            "statement_root": "0x" + root.hex(), "leaf": "0x" + leaf.hex(), "entry": hexed,
            "proof": ["0x" + a.hex(), "0x" + b.hex()]}


def past_period(community) -> int:
    """Last month (YYYYMM, UTC) at the chain's time: a period the ledger accepts."""
    from datetime import datetime, timezone

    now = datetime.fromtimestamp(community.w3.eth.get_block("latest")["timestamp"], timezone.utc)
    return (now.year - 1) * 100 + 12 if now.month == 1 else now.year * 100 + now.month - 1


def commit_root(admin, period: int, statement_root: str, total: int = 0, rules_version: int = 1) -> int:
    """Commit the next version of `period` with `statement_root` (the other roots: placeholders) as the
    operator (COMMITTER_ROLE); its version."""
    ledger = admin.community.contract("PeriodLedger")
    version = ledger.functions.latestVersion(period).call() + 1
    root = bytes.fromhex(statement_root.removeprefix("0x"))
    filler = keccak(text=f"placeholder {period} {version}")
    admin.operator.transact(ledger.functions.commit(period, version, (filler, filler, root, total, rules_version, 0)))
    return version
