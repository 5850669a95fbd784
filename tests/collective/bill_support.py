"""Shared by the billing tests: tiny allocations, a rate table with round numbers, contracts."""
from __future__ import annotations

from collective.allocate import DefaultDynamic, allocate
from collective.bill import Contracts
from collective.tariffs import Tariffs, read_table
from tests.collective.conftest import curves

# A table whose numbers are easy to compute with by hand (the real one: collective/data/tariffs_fr.csv).
HAND_TABLE = """name,valid_from,valid_to,value,unit,source
turpe.BTINFCUST.standard.cg,2020-01-01,,12,EUR/yr,test
turpe.BTINFCUST.standard.cc,2020-01-01,,6,EUR/yr,test
turpe.BTINFCUST.standard.b,2020-01-01,,6,EUR/kVA/yr,test
turpe.BTINFCUST.standard.base,2020-01-01,,5,cEUR/kWh,test
cta,2020-01-01,,20,%,test
accise,2020-01-01,,25,EUR/MWh,test
vat.standard,2020-01-01,,20,%,test
vat.reduced,2020-01-01,,5.5,%,test
slots.high_season_months,2020-01-01,,11 12 1 2 3,months,test
slots.offpeak,2020-01-01,,22:00-06:00,local time,test
"""


def hand_tariffs(tmp_path, community: str | None = None) -> Tariffs:
    """HAND_TABLE, with a community table's rows (CSV text) replacing those of the same names."""
    path = tmp_path / "hand.csv"
    path.write_text(HAND_TABLE)
    if community is None:
        return Tariffs(read_table(path))
    (tmp_path / "community.csv").write_text(community)
    return Tariffs.load(tmp_path / "community.csv", default=path)


def allocation(consumption: dict[str, list[float]], production: dict[str, list[float]], start: str):
    """Default dynamic allocation of the given kWh per step (30 min, `start` = UTC end of the first step)."""
    return allocate(curves(production, start=start), curves(consumption, start=start), DefaultDynamic())


def consumer(price: str = "0.125", kva: int = 3, **extra) -> dict:
    return {"role": "consumer", "kva": kva, "fta": "BTINFCUST",
            "supplier": {"name": "supplier", "subscription_eur_month": "3.00", "prices": {"base": price}}, **extra}


def producer(price: str = "0.125", feed_in: str = "0.04") -> dict:
    return {"role": "producer", "local_price": price, "feed_in_price": feed_in, "surplus_buyer": "buyer"}


def contracts(members: dict, fee_bps: int = 1000) -> Contracts:
    return Contracts.model_validate({"pmo_fee_bps": fee_bps, "members": members})
