"""collective.merkle against npm @openzeppelin/merkle-tree 1.0.8: same roots, trees, leaf order and
proofs, for the leaf encodings the period trees use and a few others."""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from eth_abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st

from collective.merkle import StandardMerkleTree, encode_rows, leaf_hash, process_proof

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None or not (ROOT / "node_modules/@openzeppelin/merkle-tree").is_dir(),
                                reason="node and npm @openzeppelin/merkle-tree (tools/bootstrap installs them)")


def npm_dump(types, rows) -> dict:
    """StandardMerkleTree.of(rows, types).dump() computed by the npm library."""
    def js(v):
        if isinstance(v, bytes):
            return "0x" + v.hex()
        if isinstance(v, bool):
            return v
        return str(v) if isinstance(v, int) else v
    script = ("const {StandardMerkleTree} = require('@openzeppelin/merkle-tree');"
              "const [types, rows] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "process.stdout.write(JSON.stringify(StandardMerkleTree.of(rows, types).dump()));")
    out = subprocess.run([NODE, "-e", script], input=json.dumps([types, [[js(v) for v in r] for r in rows]]),
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def random_rows(rng, n):
    return [[rng.bytes(32), "0x" + rng.bytes(20).hex(), int(rng.integers(0, 2**62)), int(rng.integers(0, 2)),
             int(rng.integers(-2**40, 2**40)), bool(rng.integers(0, 2))] for _ in range(n)]


TYPES = ["bytes32", "address", "uint64", "uint8", "int256", "bool"]


@pytest.mark.parametrize("n", [1, 2, 3, 8, 37])
def test_tree_and_leaf_order_match_the_npm_library(n):
    rows = random_rows(np.random.default_rng(n), n)
    ours = StandardMerkleTree.of(TYPES, rows).dump(rows, TYPES)
    theirs = npm_dump(TYPES, rows)
    assert ours["tree"] == theirs["tree"]
    assert [v["treeIndex"] for v in ours["values"]] == [v["treeIndex"] for v in theirs["values"]]


def test_column_encoding_builds_the_same_tree_as_rows():
    rows = random_rows(np.random.default_rng(7), 50)
    columns = [[r[j] for r in rows] for j in range(len(TYPES))]
    columns[2:5] = [np.array(c) for c in columns[2:5]]
    assert StandardMerkleTree.of_columns(TYPES, columns).root == StandardMerkleTree.of(TYPES, rows).root


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(-2**63, 2**63 - 1)), min_size=1, max_size=20))
def test_column_encoding_is_the_abi_encoding(values):
    unsigned, signed = (np.array(c, dtype=np.uint64 if i == 0 else np.int64) for i, c in enumerate(zip(*values)))
    encoded = encode_rows(["uint64", "int64"], [unsigned.astype(object) if unsigned.max() >= 2**63 else unsigned,
                                               signed])
    assert [bytes(r) for r in encoded] == [encode(["uint64", "int64"], list(v)) for v in values]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 70), st.integers(0, 2**32))
def test_every_proof_leads_to_the_root(n, seed):
    rows = [[r[0], r[2]] for r in random_rows(np.random.default_rng(seed), n)]
    tree = StandardMerkleTree.of(["bytes32", "uint64"], rows)
    siblings, depths = tree.proofs(np.arange(n))
    for i, row in enumerate(rows):
        proof = tree.proof_of_row(i)
        assert process_proof(leaf_hash(["bytes32", "uint64"], row), proof) == tree.root
        assert [bytes(p) for p in siblings[i, :depths[i]]] == proof


def test_a_changed_value_does_not_verify():
    rows = [[bytes([i]) * 32, i] for i in range(9)]
    tree = StandardMerkleTree.of(["bytes32", "uint64"], rows)
    assert process_proof(leaf_hash(["bytes32", "uint64"], [rows[4][0], 5]), tree.proof_of_row(4)) != tree.root


def test_a_published_tree_of_hashes_proves_a_known_leaf(tmp_path):
    rows = [[bytes([i]) * 32, i] for i in range(11)]
    tree = StandardMerkleTree.of(["bytes32", "uint64"], rows)
    tree.save_hashes(tmp_path / "t.tree")
    public = StandardMerkleTree.load_hashes(tmp_path / "t.tree")
    leaf = leaf_hash(["bytes32", "uint64"], rows[6])
    assert process_proof(leaf, public.proof(public.leaf_index(leaf))) == tree.root
    with pytest.raises(KeyError):
        public.leaf_index(b"\x00" * 32)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="at least one leaf"):
        StandardMerkleTree.from_leaves([])
    with pytest.raises(ValueError, match="static"):
        encode_rows(["string"], [["a"]])
    with pytest.raises(ValueError, match="negative"):
        encode_rows(["uint64"], [np.array([-1])])
    with pytest.raises(ValueError, match="rows"):
        encode_rows(["uint64", "uint64"], [np.array([1, 2]), np.array([1])])
