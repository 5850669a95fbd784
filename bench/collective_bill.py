"""Monthly billing at community scale: 1 000 households and 5 PV roofs, July 2025 at 30 min (1 488 steps),
the real-data month of `collective.dataset` with its sample contracts (60 % peak/off-peak, about half of
those on the TURPE self-consumption option), default dynamic key, the shipped French rate table.

Times are wall clock, the median of REPEATS runs. `bill` is the whole computation (per-interval sums in
numpy, every statement line in Decimal); the statements' canonical JSON and keccak digests are timed
apart, as are the HTML and PDF renderings (per statement, over RENDERED statements).

    python -m bench collective_bill
"""
from __future__ import annotations

from bench import Figure
from bench.collective_allocate import timed
from collective.allocate import DefaultDynamic, allocate
from collective.bill import Contracts, bill
from collective.dataset import community_month, sample_contracts
from collective.statement import chart_data, render_html, render_pdf
from collective.tariffs import Tariffs

CONSUMERS, PRODUCERS, MONTH = 1_000, 5, "2025-07"
RENDERED = 50


def run() -> list[Figure]:
    month = community_month(consumers=CONSUMERS, producers=PRODUCERS, month=MONTH)
    contracts = Contracts.model_validate(sample_contracts(month))
    allocation = allocate(month.production, month.consumption, DefaultDynamic())
    tariffs = Tariffs.load()
    steps = len(allocation.index)
    size = f"{CONSUMERS} consumers + {PRODUCERS} producers x {steps} steps"
    billed = bill(allocation, contracts, tariffs)
    lines = sum(len(s.lines) for s in billed.statements.values())
    figures = []
    median, fastest = timed(lambda: bill(allocation, contracts, tariffs))
    figures.append(Figure("bill_month_1000_members", median, "s", "<= 5",
                          f"{size}: {len(billed.statements)} statements, {lines} lines; min {fastest:.2f} s"))
    median, _ = timed(lambda: [s.digest() for s in bill(allocation, contracts, tariffs).statements.values()])
    figures.append(Figure("bill_month_with_json_and_digests", median, "s", "<= 5",
                          "bill() then every statement's canonical JSON and keccak256"))
    median, _ = timed(lambda: bill(allocation, contracts, tariffs, previous=billed))
    figures.append(Figure("bill_regularisation_version_2", median, "s", note="the same month against version 1"))
    median, _ = timed(lambda: chart_data(allocation, contracts))
    figures.append(Figure("chart_data_all_members", median, "s", note="local share per member and local day"))
    charts = chart_data(allocation, contracts)
    sample = list(billed.statements.values())[:RENDERED]
    median, _ = timed(lambda: [render_html(s, charts.get(s.member, [])) for s in sample])
    figures.append(Figure("html_per_statement", 1000 * median / len(sample), "ms",
                          note=f"jinja2 + inline SVG, {len(sample)} statements"))
    median, _ = timed(lambda: [render_pdf(s, charts.get(s.member, [])) for s in sample])
    figures.append(Figure("pdf_per_statement", 1000 * median / len(sample), "ms",
                          note=f"reportlab tables + chart, {len(sample)} statements; x{len(billed.statements)} "
                               f"= {median / len(sample) * len(billed.statements):.0f} s for the whole community"))
    return figures
