"""Merkle trees in OpenZeppelin's StandardMerkleTree format (npm `@openzeppelin/merkle-tree` 1.0.8).

A leaf is keccak256(keccak256(abi.encode(values))): the double hash means no 64-byte leaf can pass for an
inner node (the second-preimage attack of OpenZeppelin issue #4818). Leaves are sorted by hash; the tree
is OpenZeppelin's heap array of 2n − 1 nodes, leaves at its end in reverse order, each inner node the
keccak of its two children in ascending order, so `MerkleProof.verify` checks a proof on chain. The tests
check roots, proofs and dumps byte for byte against the npm library.

A period holds up to millions of leaves (1 000 members × 1 488 half-hours), so rows of static types
(bytes32, address, uintN, intN, bool) are ABI-encoded as numpy columns, and the tree is kept as one
(2n − 1) × 32 byte array from which any leaf's proof is read without rebuilding anything.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from eth_abi import encode
from eth_utils import to_bytes

try:  # keccak in C with ~0.2 µs per call (safe-pysha3); eth-hash's backends cost ~5 µs a call
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        return _keccak_256(data).digest()
except ImportError:  # pragma: no cover - the collective extra installs safe-pysha3
    from eth_utils import keccak as _eth_keccak

    def keccak(data: bytes) -> bytes:
        return _eth_keccak(data)

_STATIC = ("bytes32", "address", "bool")


def _is_static(abi_type: str) -> bool:
    return abi_type in _STATIC or (abi_type.startswith(("uint", "int")) and abi_type.rstrip("0123456789")
                                   in ("uint", "int"))


def encode_rows(types: Sequence[str], columns: Sequence[Any]) -> np.ndarray:
    """The ABI encodings of n rows (n × 32·len(types) bytes) from one column per type.

    Integer columns that fit 64 bits are encoded as numpy arrays (sign-extended for intN); a column of
    Python ints, bytes32 (n × 32 array or a list of 32-byte values) and addresses (0x-strings or 20-byte
    values) are converted once. Raises ValueError on a non-static type or columns of unequal length.
    """
    if len(types) != len(columns):
        raise ValueError(f"{len(types)} types for {len(columns)} columns")
    for t in types:
        if not _is_static(t):
            raise ValueError(f"only static ABI types can be encoded as columns, not {t!r}")
    n = len(columns[0]) if columns else 0
    out = np.zeros((n, 32 * len(types)), dtype=np.uint8)
    for j, (t, column) in enumerate(zip(types, columns)):
        if len(column) != n:
            raise ValueError(f"column {j} ({t}) has {len(column)} rows, expected {n}")
        word = out[:, 32 * j: 32 * (j + 1)]
        if t == "bytes32":
            word[:] = _bytes_column(column, 32)
        elif t == "address":
            word[:, 12:] = _bytes_column(column, 20)
        else:
            values = np.asarray(column)
            if values.dtype == object:  # big Python ints: eth_abi per row
                word[:] = np.frombuffer(b"".join(encode([t], [int(v)]) for v in values), np.uint8).reshape(n, 32)
                continue
            if t.startswith("int") and (values < 0).any():
                word[:, :24] = np.where((values < 0)[:, None], 0xFF, 0).astype(np.uint8)
            elif (values < 0).any():
                raise ValueError(f"negative value in a {t} column")
            word[:, 24:] = values.astype(">i8").view(np.uint8).reshape(n, 8)
    return out


def _bytes_column(column, width: int) -> np.ndarray:
    if isinstance(column, np.ndarray) and column.dtype == np.uint8 and column.shape[1:] == (width,):
        return column
    raw = [to_bytes(hexstr=v) if isinstance(v, str) else bytes(v) for v in column]
    if any(len(v) != width for v in raw):
        raise ValueError(f"expected {width}-byte values")
    return np.frombuffer(b"".join(raw), np.uint8).reshape(len(raw), width)


def leaf_hash(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """keccak256(keccak256(abi.encode(values))) for one leaf, any ABI types (bytesN as 0x-strings too)."""
    values = [to_bytes(hexstr=v) if t.startswith("bytes") and isinstance(v, str) else v
              for t, v in zip(types, values)]
    return keccak(keccak(encode(list(types), values)))


def node_hash(a: bytes, b: bytes) -> bytes:
    return keccak(a + b if a <= b else b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to from a leaf hash (what `MerkleProof.processProof` computes)."""
    for sibling in proof:
        leaf = node_hash(leaf, sibling)
    return leaf


class StandardMerkleTree:
    """A built tree: `root`, `leaf_index(hash)`, `proof(tree_index)` and `dump()`.

    `tree` is the (2n − 1) × 32 node array; `order[i]` is the tree index of the i-th input row.
    """

    def __init__(self, tree: np.ndarray, order: np.ndarray, types: Sequence[str] | None = None):
        self.tree = tree
        self.order = order
        self.types = tuple(types) if types is not None else None

    @classmethod
    def of(cls, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> "StandardMerkleTree":
        """From rows of values of any ABI types (statements: few leaves, any type)."""
        return cls.from_leaves([leaf_hash(types, row) for row in rows], types)

    @classmethod
    def of_columns(cls, types: Sequence[str], columns: Sequence[Any]) -> "StandardMerkleTree":
        """From one column per static type (intervals: millions of leaves)."""
        encoded = encode_rows(types, columns)
        width = encoded.shape[1]
        flat = encoded.tobytes()
        leaves = [keccak(keccak(flat[i:i + width])) for i in range(0, len(flat), width)]
        return cls.from_leaves(leaves, types)

    @classmethod
    def from_leaves(cls, leaves: Sequence[bytes], types: Sequence[str] | None = None) -> "StandardMerkleTree":
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        n = len(leaves)
        hashes = np.frombuffer(b"".join(leaves), np.uint8).reshape(n, 32)
        # Sort by hash as big-endian 256-bit numbers (the npm library's byte compare), stably.
        words = hashes.view(">u8").reshape(n, 4)
        sorted_rows = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0]))
        tree = np.empty((2 * n - 1, 32), np.uint8)
        tree[2 * n - 2 - np.arange(n)] = hashes[sorted_rows]
        nodes = [b""] * (n - 1) + [leaves[i] for i in sorted_rows[::-1].tolist()]
        for i in range(n - 2, -1, -1):
            a, b = nodes[2 * i + 1], nodes[2 * i + 2]
            nodes[i] = keccak(a + b if a <= b else b + a)
        if n > 1:
            tree[:n - 1] = np.frombuffer(b"".join(nodes[:n - 1]), np.uint8).reshape(n - 1, 32)
        order = np.empty(n, np.int64)
        order[sorted_rows] = 2 * n - 2 - np.arange(n)
        return cls(tree, order, types)

    @property
    def root(self) -> bytes:
        return bytes(self.tree[0])

    def __len__(self) -> int:
        return len(self.order)

    def proof(self, tree_index: int) -> list[bytes]:
        """The sibling hashes from a leaf (by tree index) up to the root."""
        n = len(self.order)
        if not n - 1 <= tree_index < 2 * n - 1:
            raise IndexError(f"{tree_index} is not a leaf of a tree of {n} leaves")
        proof = []
        while tree_index > 0:
            proof.append(bytes(self.tree[tree_index + 1 if tree_index % 2 else tree_index - 1]))
            tree_index = (tree_index - 1) // 2
        return proof

    def proof_of_row(self, row: int) -> list[bytes]:
        """The proof of the `row`-th input row."""
        return self.proof(int(self.order[row]))

    def leaf_index(self, leaf: bytes) -> int:
        """The tree index of a leaf hash (KeyError if absent): how a member finds its own leaf in a
        published tree of hashes from values and salt only it and the PMO know."""
        n = len(self.order)
        matches = np.flatnonzero((self.tree[n - 1:] == np.frombuffer(leaf, np.uint8)).all(axis=1))
        if not len(matches):
            raise KeyError(f"leaf 0x{leaf.hex()} is not in the tree")
        return n - 1 + int(matches[0])

    def proofs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The proofs of many rows at once: siblings (rows × depth × 32, zero-padded) and each proof's
        length (depths differ by at most one), with one gather for the whole batch."""
        index = self.order[np.asarray(rows)]
        path = []
        while (index > 0).any():
            path.append(np.where(index > 0, np.where(index % 2 == 1, index + 1, index - 1), -1))
            index = np.where(index > 0, (index - 1) // 2, 0)
        steps = np.stack(path, axis=1) if path else np.zeros((len(index), 0), np.int64)
        siblings = self.tree[np.where(steps >= 0, steps, 0)]
        siblings[steps < 0] = 0
        return siblings, (steps >= 0).sum(axis=1)

    def dump(self, values: Sequence[Sequence[Any]], encoding: Sequence[str]) -> dict:
        """The npm library's `dump()` (format standard-v1) for the rows the tree was built from."""
        return {
            "format": "standard-v1",
            "leafEncoding": list(encoding),
            "tree": ["0x" + bytes(node).hex() for node in self.tree],
            "values": [{"value": list(v), "treeIndex": int(i)} for v, i in zip(values, self.order)],
        }

    def save_hashes(self, path) -> None:
        """The public form of the tree: its node hashes only (no values, no salts), as raw bytes."""
        with open(path, "wb") as f:
            f.write(self.tree.tobytes())

    @classmethod
    def load_hashes(cls, path) -> "StandardMerkleTree":
        """A published tree of hashes (`save_hashes`): enough to prove any leaf whose hash one knows."""
        tree = np.fromfile(path, np.uint8)
        if tree.size % 32 or (tree.size // 32) % 2 == 0:
            raise ValueError(f"{path} is not a tree of 32-byte nodes (2n − 1 of them)")
        tree = tree.reshape(-1, 32)
        n = (len(tree) + 1) // 2
        return cls(tree, np.arange(2 * n - 2, n - 2, -1), None)
