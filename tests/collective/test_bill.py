"""Billing examples computed by hand (collective.bill), regularisation, and bad contracts."""
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from collective.bill import Bill, bill, load_contracts
from collective.tariffs import Tariffs
from tests.collective.bill_support import allocation, consumer, contracts, hand_tariffs, producer

JUNE_10 = "2025-06-10 10:00"  # UTC end of a half-hour: 11:30-12:00 in Paris, June 10th


def line(statement, label):
    found = [x for x in statement.lines if x.label.startswith(label)]
    assert len(found) == 1, [x.label for x in statement.lines]
    return found[0]


@pytest.fixture
def june(tmp_path):
    """C consumes 2 kWh while P produces 1: 1 kWh local, 1 kWh complement, in June 2025 (30 days)."""
    return bill(allocation({"C": [2.0]}, {"P": [1.0]}, JUNE_10), contracts({"C": consumer(), "P": producer()}),
                hand_tariffs(tmp_path))


def test_a_half_cent_rounds_up_not_to_even(june):
    supplier = line(june.statements["C"], "Supplier energy BASE")
    assert (supplier.quantity, supplier.unit_price) == (Decimal("1.000"), Decimal("0.125"))
    assert supplier.amount == Decimal("0.13")  # HALF_UP
    assert Decimal("0.125").quantize(Decimal("0.01"), ROUND_HALF_EVEN) == Decimal("0.12")  # what banker's would bill


def test_every_consumer_line_by_hand(june):
    amounts = {x.label: x.amount for x in june.statements["C"].lines}
    assert amounts == {
        "Local energy from P": Decimal("0.13"),  # 1 kWh × 0.125
        "Supplier energy BASE": Decimal("0.13"),  # 1 kWh × 0.125
        "Supplier subscription": Decimal("3.00"),  # 3.00 a month × 30/30 days
        "TURPE fixed part BTINFCUST standard (management 12 + metering 6 + 6 €/kVA × 3 kVA a year)":
            Decimal("2.96"),  # 36 €/yr × 30/365 = 2.9589
        "TURPE variable BASE": Decimal("0.10"),  # 2 kWh × 5 c€
        "CTA (20 % of the TURPE fixed part)": Decimal("0.59"),  # 2.96 × 20 % = 0.592
        "Excise on electricity (accise)": Decimal("0.05"),  # 2 kWh × 25 €/MWh
    }


def test_vat_per_payee_and_rate_on_the_rounded_subtotals(june):
    totals = june.statements["C"].totals
    # 20 % of 0.13 + 0.10 + 0.05 = 0.056 -> 0.06; 5.5 % of 3.00 + 2.96 + 0.59 = 0.36025 -> 0.36
    assert (totals["supplier"].ht, totals["supplier"].vat, totals["supplier"].ttc) == \
        (Decimal("6.83"), Decimal("0.42"), Decimal("7.25"))
    assert (totals["P"].ht, totals["P"].vat, totals["P"].ttc) == (Decimal("0.13"), 0, Decimal("0.13"))


def test_producer_revenue_fee_and_settlement(june):
    fee = line(june.statements["P"], "PMO fee")
    assert (fee.quantity, fee.unit_price, fee.amount, fee.payee) == (Decimal("0.13"), Decimal("0.1"), Decimal("0.01"), "pmo")
    assert june.settlement() == {"C": (13, 0), "P": (0, 12), "pmo": (0, 1)}


def test_largest_remainder_shares_the_producers_cents(tmp_path):
    # three consumers get 1 kWh each at 0.005 €: 0.005 each, 0.015 in all -> 0.02 for the producer,
    # so one consumer line rounds down (the last id: ties go to the id that sorts first)
    members = {c: consumer() for c in ("C1", "C2", "C3")} | {"P": producer(price="0.005")}
    result = bill(allocation({"C1": [1.0], "C2": [1.0], "C3": [1.0]}, {"P": [3.0]}, JUNE_10), contracts(members),
                  hand_tariffs(tmp_path))
    local = [line(result.statements[c], "Local energy from P").amount for c in ("C1", "C2", "C3")]
    assert local == [Decimal("0.01"), Decimal("0.01"), Decimal("0.00")]
    assert line(result.statements["P"], "Local energy sold").amount == Decimal("0.02")


def test_a_rate_change_mid_period_splits_the_lines_by_interval_date(tmp_path):
    # a community table: accise 25 €/MWh until June 15th, 30 from June 16th; 2 kWh on the 10th and on the 20th
    change = ("name,valid_from,valid_to,value,unit,source\naccise,2020-01-01,2025-06-16,25,EUR/MWh,test\n"
              "accise,2025-06-16,,30,EUR/MWh,test\n")
    result = bill(allocation({"C": [2.0] + [0.0] * 479 + [2.0]}, {"P": [0.0] * 481}, JUNE_10),
                  contracts({"C": consumer(), "P": producer()}), hand_tariffs(tmp_path, change))
    s = result.statements["C"]
    first, second = line(s, "Excise on electricity (accise) (01/06–15/06)"), line(s, "Excise on electricity (accise) (16/06–30/06)")
    assert (first.quantity, first.unit_price, first.amount) == (Decimal("2.000"), Decimal("0.025"), Decimal("0.05"))
    assert (second.quantity, second.unit_price, second.amount) == (Decimal("2.000"), Decimal("0.030"), Decimal("0.06"))
    assert line(s, "Supplier subscription (01/06–15/06)").amount == Decimal("1.50")  # 3.00 × 15/30
    assert line(s, "TURPE fixed part BTINFCUST standard (management 12 + metering 6 + 6 €/kVA × 3 kVA a year) (16/06–30/06)"
                ).amount == Decimal("1.48")  # 36 × 15/365 = 1.4795


@pytest.mark.parametrize("end, period, auto, allo, vat_fixed", [
    # the interval ending at midnight on August 1st (local) belongs to July 31st: TURPE 6, 5.5 % VAT
    ("2025-07-31 22:00", "2025-07", Decimal("0.21"), Decimal("0.49"), Decimal("0.055")),  # 50 × 0.42 c€, 50 × 0.97 c€ = 0.485
    # the next one is August 1st: TURPE 7 with its self-consumption rates, 20 % VAT on the fixed part
    ("2025-07-31 22:30", "2025-08", Decimal("0.25"), Decimal("0.61"), Decimal("0.200")),  # 50 × 0.49 c€ = 0.245, × 1.21 c€
])
def test_the_published_turpe_rates_follow_the_local_date_of_each_interval(end, period, auto, allo, vat_fixed):
    members = {"C": consumer(fta="BTINFCU4", tariff_option="acc", kva=6) | {"supplier": {"prices": {"hp": "0.2", "hc": "0.1"}}},
               "P": producer()}
    result = bill(allocation({"C": [100.0]}, {"P": [50.0]}, end), contracts(members), Tariffs.load(), period)
    s = result.statements["C"]
    assert line(s, "TURPE local energy HCB").amount == auto  # night in summer: off-peak, low season
    assert line(s, "TURPE complement HCB").amount == allo
    assert line(s, "TURPE fixed part").vat_rate == vat_fixed


def test_a_regularisation_bills_the_difference_only(tmp_path):
    tariffs = hand_tariffs(tmp_path)
    members = contracts({"C": consumer(), "P": producer()})
    v1 = bill(allocation({"C": [2.0]}, {"P": [1.0]}, JUNE_10), members, tariffs)
    v1.write(tmp_path / "v1")
    # the grid operator corrects the production: 1.5 kWh, so 1.5 local (0.1875 -> 0.19) and 0.5 complement
    v2 = bill(allocation({"C": [2.0]}, {"P": [1.5]}, JUNE_10), members, tariffs, previous=Bill.read(tmp_path / "v1"))
    s = v2.statements["C"]
    assert v2.version == 2 and line(s, "Local energy from P").amount == Decimal("0.19")
    regularisation = {x.payee: x.amount for x in s.lines if x.kind == "regularisation"}
    assert regularisation["P"] == Decimal("0.06")  # 0.19 now, 0.13 billed
    assert s.due["P"] == Decimal("0.06") and s.due["supplier"] == s.totals["supplier"].ttc - v1.statements["C"].totals["supplier"].ttc
    # fee 0.019 -> 0.02 now against 0.01: the tokens move by the difference only, and still net to 0
    assert v2.settlement() == {"C": (6, 0), "P": (0, 5), "pmo": (0, 1)}


def test_versions_are_never_overwritten(tmp_path, june):
    june.write(tmp_path / "v1")
    before = (tmp_path / "v1" / "statements" / "C.json").read_text()
    with pytest.raises(ValueError, match="exists"):
        june.write(tmp_path / "v1")
    assert (tmp_path / "v1" / "statements" / "C.json").read_text() == before


def test_a_statement_reads_back_to_the_same_digest(tmp_path, june):
    june.write(tmp_path / "v1")
    again = Bill.read(tmp_path / "v1")
    assert {p: s.digest() for p, s in again.statements.items()} == {p: s.digest() for p, s in june.statements.items()}
    assert june.statements["C"].digest().startswith("0x") and len(june.statements["C"].digest()) == 66


@pytest.mark.parametrize("member, message", [
    ({"role": "consumer", "supplier": {"prices": {"base": "0.2"}}}, "members.C: Value error, a consumer needs 'kva'"),
    (consumer() | {"supplier": {"prices": {"hp": "0.2"}}}, "members.C.supplier.prices"),
    (consumer(kva=40), "members.C.kva"),
    (consumer(offpeak="10pm-6am"), "members.C.offpeak"),
])
def test_bad_contracts_name_the_member_and_field(tmp_path, member, message):
    import yaml

    path = tmp_path / "contracts.yaml"
    path.write_text(yaml.safe_dump({"members": {"C": member, "P": producer()}}))
    with pytest.raises(ValueError) as error:
        load_contracts(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_contract_without_published_rates_names_the_member(tmp_path):
    with pytest.raises(ValueError, match=r"member 'C': no TURPE rows turpe.BTINFCUST.acc"):
        bill(allocation({"C": [2.0]}, {"P": [1.0]}, JUNE_10),
             contracts({"C": consumer(tariff_option="acc"), "P": producer()}), hand_tariffs(tmp_path))


def test_a_meter_without_a_contract_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"consumption meter\(s\) \['D'\] belong to no member"):
        bill(allocation({"C": [2.0], "D": [1.0]}, {"P": [1.0]}, JUNE_10),
             contracts({"C": consumer(), "P": producer()}), hand_tariffs(tmp_path))


def test_a_prosumer_pays_itself_nothing_in_tokens(tmp_path):
    # X (a prosumer, not netted here) makes 2 kWh and uses 1; C uses 1: each gets 1 kWh local at 0.10
    members = {"X": consumer() | producer(price="0.10") | {"role": "prosumer"}, "C": consumer()}
    result = bill(allocation({"X": [1.0], "C": [1.0]}, {"X": [2.0]}, JUNE_10), contracts(members), hand_tariffs(tmp_path))
    x = result.statements["X"]
    assert line(x, "Local energy from X").amount == Decimal("0.10")  # shown on its bill
    assert line(x, "Local energy sold").amount == Decimal("0.20")  # its revenue includes it
    # tokens: C pays 0.10, X receives 0.20 - 0.10 (its own) - 0.02 fee, the PMO 0.02
    assert result.settlement() == {"C": (10, 0), "X": (0, 8), "pmo": (0, 2)}


def test_curves_outside_the_period_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"period 2025-07: the allocation covers local months \['2025-06'\]"):
        bill(allocation({"C": [2.0]}, {"P": [1.0]}, JUNE_10), contracts({"C": consumer(), "P": producer()}),
             hand_tariffs(tmp_path), "2025-07")
