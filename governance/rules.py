"""The collective rules as CommunityRules stores them: names of its enums, the hashes of the documents
it points to (shares, conformity thresholds), and prices in token units."""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

import yaml
from web3 import Web3

# ICommunityRules.KeyType / SurplusPolicy, in order; names as collective/cli.py's --key spells them
KEY_TYPES = ("default-dynamic", "static", "dynamic-simple", "full-dynamic", "priority")
SURPLUS_POLICIES = ("sold-to-supplier", "shared-among-members", "unvalued")
NO_HASH = b"\x00" * 32


class Rules(NamedTuple):
    """ICommunityRules.Rules, field for field (prices in token base units per kWh)."""

    keyType: int
    surplusPolicy: int
    pmoFeeBps: int
    priceFloorPerKwh: int
    priceCapPerKwh: int
    sharesHash: bytes
    conformityHash: bytes

    def describe(self, decimals: int) -> dict:
        unit = Decimal(10) ** decimals
        return {
            "key": KEY_TYPES[self.keyType],
            "surplus": SURPLUS_POLICIES[self.surplusPolicy],
            "pmo_fee_bps": self.pmoFeeBps,
            "price_floor_per_kwh": str(Decimal(self.priceFloorPerKwh) / unit),
            "price_cap_per_kwh": str(Decimal(self.priceCapPerKwh) / unit),
            "shares_hash": "0x" + bytes(self.sharesHash).hex(),
            "conformity_hash": "0x" + bytes(self.conformityHash).hex(),
        }


def in_force(rules_contract, period: int | None = None) -> tuple[int, int, Rules]:
    """(period, version, rules) in force in `period` (YYYYMM; None: the current month) from the chain's
    CommunityRules (a web3 contract): what the collective pipeline applies to a period and records in
    its commitment. ValueError for a month before the first version."""
    r = rules_contract.functions
    period = period or r.currentPeriod().call()
    version = r.versionAt(period).call()
    if version == 0:
        raise ValueError(f"no rules in force in {period}: the first version starts later")
    return period, version, Rules(*r.rulesAt(period).call())


def document_hash(path: Path) -> bytes:
    """keccak256 of a JSON or YAML document (the shares file of `daisee-collective allocate --shares`,
    or the conformity thresholds of `collective.check.CheckSettings`) in canonical JSON: sorted keys,
    no spaces, so that the same content hashes the same whatever its formatting. ValueError if unreadable."""
    try:
        content = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    if content is None:
        raise ValueError(f"{path} is empty")
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return bytes(Web3.keccak(text=canonical))


def token_units(amount: str, decimals: int) -> int:
    """'0.12' tokens -> base units (exact, Decimal); ValueError for a negative, malformed or too precise amount."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not a number") from None
    units = value * (Decimal(10) ** decimals)
    if not value.is_finite() or value < 0 or units != units.to_integral_value():
        raise ValueError(f"{amount!r} is not a non-negative amount with at most {decimals} decimals")
    return int(units)
