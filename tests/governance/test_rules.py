"""governance/rules.py: the hashes the rules point to and prices in token units (no chain)."""
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.rules import document_hash, token_units


def test_a_document_hashes_the_same_whatever_its_formatting(tmp_path):
    compact, spaced, as_yaml = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.yaml"
    compact.write_text('{"PRM-2":0.4,"PRM-1":0.6}')
    spaced.write_text('{\n  "PRM-1": 0.6,\n  "PRM-2": 0.4\n}\n')
    as_yaml.write_text("PRM-1: 0.6\nPRM-2: 0.4\n")
    assert document_hash(compact) == document_hash(spaced) == document_hash(as_yaml)


def test_a_different_share_hashes_differently(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text('{"PRM-1": 0.6, "PRM-2": 0.4}')
    b.write_text('{"PRM-1": 0.5, "PRM-2": 0.5}')
    assert document_hash(a) != document_hash(b)


@pytest.mark.parametrize("content", ["", "{unclosed"])
def test_an_empty_or_broken_document_is_refused(tmp_path, content):
    path = tmp_path / "shares.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="shares.json"):
        document_hash(path)


@given(st.decimals(min_value=0, max_value=10**9, places=18, allow_nan=False, allow_infinity=False))
def test_token_units_are_exact(amount):
    assert Decimal(token_units(str(amount), 18)) / Decimal(10**18) == amount


@pytest.mark.parametrize("amount", ["-1", "abc", "0.0000000000000000001", "NaN"])
def test_token_units_refuse_what_is_not_an_amount(amount):
    with pytest.raises(ValueError):
        token_units(amount, 18)
