"""Commit a period on chain: the Merkle roots of its checked inputs, its allocation and its statements.

Three trees per period and version, in OpenZeppelin's StandardMerkleTree format (collective.merkle):

    inputs      (salt, member, end, flow, mwh)                   one leaf per meter, interval and flow
    allocation  (salt, member, end, role, local_mwh, rest_mwh)   consumer: autocons, complement;
                                                                  producer: autoprod, surplus
    statements  (salt, account, member, debit, credit, statement) one leaf per member (settlement)

`member` is keccak256 of the meter id (a pseudonym; the leaf is salted anyway), `end` the interval's end
in unix seconds, energies in mWh (integers, so a leaf encodes exactly), `flow` 0 = consumption and
1 = production, `role` 0 = consumer and 1 = producer; `debit`/`credit` are the member's net local-energy
amounts in token base units and `statement` the keccak256 of its statement file's canonical JSON.

Each member's leaves carry a 32-byte salt drawn at random for that member and period (`Salts`), given to
that member only: interval values have low entropy, so unsalted leaves could be guessed from the public
tree. Erasing a member's salt erases the link between the public hashes and its data (GDPR erasure).

What is published (`write`): the roots, and each tree's node hashes (no values, no salts), from which any
member holding its own values and salt finds its leaves and proves them (`prove`). Each member gets a
reference file with its statement leaf, salt and proof, which `verify_reference` checks against the chain.
"""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from eth_utils import keccak as eth_keccak
from eth_utils import to_checksum_address

from collective.allocate import Allocation
from collective.bill import Statement
from collective.curves import Curves
from collective.merkle import StandardMerkleTree, leaf_hash, process_proof
from daisee.files import write_atomic

INPUT_TYPES = ("bytes32", "bytes32", "uint64", "uint8", "uint64")
ALLOCATION_TYPES = ("bytes32", "bytes32", "uint64", "uint8", "uint64", "uint64")
STATEMENT_TYPES = ("bytes32", "address", "bytes32", "uint256", "uint256", "bytes32")
TREES = ("inputs", "allocation", "statements")  # the ledger's Tree enum, in order
CONSUMPTION, PRODUCTION = 0, 1
CONSUMER, PRODUCER = 0, 1


def member_id(meter: str) -> bytes:
    """The pseudonymous id of a member in every leaf: keccak256 of its meter id."""
    return eth_keccak(text=_member(meter))


def _member(meter: str) -> str:
    """The member a curve belongs to: "<id>:consumption" and "<id>:production" are one member."""
    return meter.rsplit(":", 1)[0] if meter.endswith((":consumption", ":production")) else meter


class Salts:
    """Each member's secret for one period, kept by the PMO in a file only its user reads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._salts: dict[str, str] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def of(self, member: str) -> bytes:
        """The member's salt, drawn at random the first time (saved at once: a lost salt cannot be redrawn)."""
        member = _member(member)
        if member not in self._salts:
            self._salts[member] = "0x" + secrets.token_hex(32)
            self._save()
        return bytes.fromhex(self._salts[member][2:])

    def column(self, meters: Sequence[str], repeat: int) -> np.ndarray:
        """Salts of `meters` as an (repeat·len(meters)) × 32 column, meter-major, for leaves built per step."""
        salts = np.frombuffer(b"".join(self.of(m) for m in meters), np.uint8).reshape(len(meters), 32)
        return np.repeat(salts, repeat, axis=0)

    def erase(self, member: str) -> None:
        """GDPR erasure: without its salt, a member's leaves cannot be linked to its data any more."""
        self._salts.pop(_member(member), None)
        self._save()

    def _save(self) -> None:
        write_atomic(self.path, json.dumps(self._salts, indent=1, sort_keys=True))
        os.chmod(self.path, 0o600)


def _mwh(kwh: np.ndarray) -> np.ndarray:
    if np.isnan(kwh).any() or (kwh < -1e-9).any():
        raise ValueError("committed energies must be checked first: no missing or negative value")
    return np.rint(np.clip(kwh, 0, None) * 1e6).astype(np.int64)


Owners = Mapping[str, str]  # meter id -> member id, for meters not named "<member>[:consumption|:production]"


def _owner(meter: str, owners: Owners | None) -> str:
    return (owners or {}).get(meter) or _member(meter)


def _interval_columns(curves: Curves, salts: Salts, code: int, owners: Owners | None) -> list:
    """Columns (salt, member, end, code) for every meter × step of `curves`, meter-major."""
    steps, members = len(curves.index), [_owner(m, owners) for m in curves.meters]
    ids = np.frombuffer(b"".join(member_id(m) for m in members), np.uint8).reshape(len(members), 32)
    return [salts.column(members, steps), np.repeat(ids, steps, axis=0),
            np.tile(curves.index.asi8 // 10**9, len(members)), np.full(steps * len(members), code)]


def inputs_tree(production: Curves, consumption: Curves, salts: Salts, owners: Owners | None = None) -> StandardMerkleTree:
    """The checked inputs: every consumption and production value of the period."""
    parts = [(consumption, CONSUMPTION), (production, PRODUCTION)]
    columns = [np.concatenate(c) for c in zip(*[
        _interval_columns(curves, salts, code, owners) + [_mwh(curves.kwh.T.ravel())] for curves, code in parts])]
    return StandardMerkleTree.of_columns(INPUT_TYPES, columns)


def allocation_tree(allocation: Allocation, salts: Salts, owners: Owners | None = None) -> StandardMerkleTree:
    """The allocation: each consumer's local share and complement, each producer's local use and surplus."""
    parts = [(allocation.consumption, CONSUMER, allocation.autocons, allocation.complement),
             (allocation.production, PRODUCER, allocation.autoprod, allocation.surplus)]
    columns = [np.concatenate(c) for c in zip(*[
        _interval_columns(curves, salts, code, owners) + [_mwh(local.T.ravel()), _mwh(rest.T.ravel())]
        for curves, code, local, rest in parts])]
    return StandardMerkleTree.of_columns(ALLOCATION_TYPES, columns)


@dataclass(frozen=True)
class Entry:
    """One member's statement leaf: what the settlement contract collects and pays."""

    member: str
    account: str
    debit: int
    credit: int
    statement: bytes
    salt: bytes

    def values(self) -> list:
        return [self.salt, to_checksum_address(self.account), member_id(self.member), self.debit, self.credit,
                self.statement]

    def leaf(self) -> bytes:
        return leaf_hash(STATEMENT_TYPES, self.values())

    def as_tuple(self) -> tuple:
        """The contract's `Entry` struct (salt, account, member, debit, credit, statement)."""
        return tuple(self.values())


@dataclass(frozen=True)
class PeriodCommitment:
    """The roots of one period version, their trees and the members' statement entries."""

    period: int
    version: int
    rules_version: int
    trees: Mapping[str, StandardMerkleTree]
    entries: Sequence[Entry]

    @property
    def roots(self) -> dict[str, bytes]:
        return {name: tree.root for name, tree in self.trees.items()}

    @property
    def settlement_total(self) -> int:
        return sum(e.debit for e in self.entries)

    def ledger_args(self) -> tuple:
        """`PeriodLedger.commit(period, version, Commitment)` arguments (committedAt is set on chain)."""
        r = self.roots
        return (self.period, self.version,
                (r["inputs"], r["allocation"], r["statements"], self.settlement_total, self.rules_version, 0))

    def proof(self, member: str) -> list[bytes]:
        """The statement proof of a member."""
        row = next(i for i, e in enumerate(self.entries) if e.member == _member(member))
        return self.trees["statements"].proof_of_row(row)

    def settlement_items(self) -> list[tuple[Entry, list[bytes]]]:
        """Every statement entry with its proof: what `collective.ledger.settle` works through."""
        return [(e, self.trees["statements"].proof_of_row(i)) for i, e in enumerate(self.entries)]

    def reference(self, member: str, chain_id: int | None = None, ledger: str | None = None) -> dict:
        """What a member needs to verify its statement against the chain (its reference file)."""
        entry = next(e for e in self.entries if e.member == _member(member))
        return {
            "period": self.period, "version": self.version, "chain_id": chain_id, "ledger": ledger,
            "statement_root": "0x" + self.roots["statements"].hex(),
            "leaf": "0x" + entry.leaf().hex(),
            "entry": {"salt": "0x" + entry.salt.hex(), "account": to_checksum_address(entry.account),
                      "member": entry.member, "member_id": "0x" + member_id(entry.member).hex(),
                      "debit": str(entry.debit), "credit": str(entry.credit),
                      "statement": "0x" + entry.statement.hex()},
            "proof": ["0x" + p.hex() for p in self.proof(member)],
        }

    def write(self, out: Path, chain_id: int | None = None, ledger: str | None = None) -> Path:
        """The public part (roots.json, <tree>.tree of node hashes) and each member's reference file
        (references/<member>.json, private to that member). Returns the directory."""
        out = Path(out)
        (out / "references").mkdir(parents=True, exist_ok=True)
        write_atomic(out / "roots.json", json.dumps({
            "period": self.period, "version": self.version, "rules_version": self.rules_version,
            "settlement_total": str(self.settlement_total), "chain_id": chain_id, "ledger": ledger,
            **{f"{name}_root": "0x" + root.hex() for name, root in self.roots.items()},
            "leaves": {name: len(tree) for name, tree in self.trees.items()},
        }, indent=1))
        for name, tree in self.trees.items():
            tree.save_hashes(out / f"{name}.tree")
        for entry in self.entries:
            write_atomic(out / "references" / f"{_safe(entry.member)}.json",
                         json.dumps(self.reference(entry.member, chain_id, ledger), indent=1))
        return out


def _safe(member: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in member)


def statement_entries(parties: Mapping[str, tuple[str, int, int, bytes]], salts: Salts) -> list[Entry]:
    """Entries from {member: (account, debit, credit, statement digest)}; a member's debit and credit are
    netted (one of them is 0), and Σ debit must equal Σ credit (ValueError otherwise)."""
    entries = []
    for member, (account, debit, credit, digest) in sorted(parties.items()):
        if debit < 0 or credit < 0:
            raise ValueError(f"{member}: negative settlement amount")
        net = debit - credit
        entries.append(Entry(_member(member), account, max(net, 0), max(-net, 0), bytes(digest), salts.of(member)))
    debits, credits = sum(e.debit for e in entries), sum(e.credit for e in entries)
    if debits != credits:
        raise ValueError(f"the statements' local-energy debits ({debits}) and credits ({credits}) differ: "
                         "the settlement would not balance")
    return entries


def build(period: int, version: int, rules_version: int, allocation: Allocation,
          parties: Mapping[str, tuple[str, int, int, bytes]], salts: Salts, owners: Owners | None = None) -> PeriodCommitment:
    """The three trees of a period version: the allocation's inputs (the checked curves it was given),
    the allocation, and `parties`' statement entries ({member: (account, debit, credit, digest)})."""
    if version < 1:
        raise ValueError("versions are numbered from 1")
    entries = statement_entries(parties, salts)
    if not entries:
        raise ValueError("no statement to commit")
    trees = {
        "inputs": inputs_tree(allocation.production, allocation.consumption, salts, owners),
        "allocation": allocation_tree(allocation, salts, owners),
        "statements": StandardMerkleTree.of(STATEMENT_TYPES, [e.values() for e in entries]),
    }
    return PeriodCommitment(period, version, rules_version, trees, entries)


def of_bill(bill, allocation: Allocation, contracts, salts: Salts, units_per_cent: int,
            rules_version: int) -> PeriodCommitment:
    """The commitment of a `collective.bill.Bill`: its statements' local-energy amounts in token base
    units (`units_per_cent`), each party's account from the contracts (ValueError naming a party that
    moves tokens without one)."""
    parties = {}
    for party, (debit, credit) in bill.settlement().items():
        account = contracts.account(party)
        if account is None:
            if debit or credit:
                raise ValueError(f"{party} has local energy to settle but no 'account' in the contracts")
            continue
        statement = bill.statements[party]
        parties[party] = (account, debit * units_per_cent, credit * units_per_cent,
                          bytes.fromhex(statement.digest()[2:]))
    owners = {contracts.meter(m, side): m for m, c in contracts.members.items()
              for side, used in (("consumption", c.consumes), ("production", c.produces)) if used}
    year, month = bill.period.split("-")
    return build(int(year) * 100 + int(month), bill.version, rules_version, allocation, parties, salts, owners)


def entry_of(reference: Mapping) -> Entry:
    e = reference["entry"]
    return Entry(e["member"], e["account"], int(e["debit"]), int(e["credit"]), bytes.fromhex(e["statement"][2:]),
                 bytes.fromhex(e["salt"][2:]))


def read_references(directory: Path) -> tuple[int, int, list[tuple[Entry, list[bytes]]]]:
    """(period, version, [(entry, proof)]) from a commitment's references/ (what `settle` needs)."""
    files = sorted((Path(directory) / "references").glob("*.json"))
    if not files:
        raise ValueError(f"{directory}: no references/*.json (written by `daisee-collective commit`)")
    references = [json.loads(f.read_text()) for f in files]
    versions = {(r["period"], r["version"]) for r in references}
    if len(versions) != 1:
        raise ValueError(f"{directory}: references of several periods or versions: {sorted(versions)}")
    period, version = versions.pop()
    return period, version, [(entry_of(r), [bytes.fromhex(p[2:]) for p in r["proof"]]) for r in references]


def check_reference(reference: Mapping, statement_json: str | None = None) -> bytes:
    """The leaf a reference file describes, after checking that its entry hashes to its leaf, its proof
    leads to its root and, given the member's statement file, that the file is the one committed
    (ValueError naming what does not match). Offline: no chain needed."""
    entry = entry_of(reference)
    if statement_json is not None and Statement.from_json(statement_json).digest() != "0x" + entry.statement.hex():
        raise ValueError("the statement file is not the one committed: its digest differs from the leaf's")
    leaf = entry.leaf()
    if "0x" + leaf.hex() != reference["leaf"]:
        raise ValueError("the entry does not hash to the reference's leaf: a value was changed")
    root = process_proof(leaf, [bytes.fromhex(p[2:]) for p in reference["proof"]])
    if "0x" + root.hex() != reference["statement_root"]:
        raise ValueError("the proof does not lead to the reference's statement root")
    return leaf
