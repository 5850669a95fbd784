"""Statements rendered for members (collective.statement): HTML with every line, PDF, the reference block."""
import pytest

from collective.bill import bill
from collective.statement import chart_data, render_html, render_pdf
from tests.collective.bill_support import allocation, consumer, contracts, hand_tariffs, producer

REFERENCE = {"statement_root": "0x" + "ab" * 32, "leaf_salt": "0x" + "cd" * 32, "proof": ["0x" + "01" * 32, "0x" + "02" * 32]}


@pytest.fixture
def billed(tmp_path):
    allocated = allocation({"C": [2.0, 1.0, 0.5]}, {"P": [1.0, 0.0, 2.0]}, "2025-06-10 10:00")
    members = contracts({"C": consumer(), "P": producer()})
    return bill(allocated, members, hand_tariffs(tmp_path)), chart_data(allocated, members)


def test_chart_data_gives_local_and_complement_per_local_day(billed):
    _, charts = billed
    assert [(d.day, round(d.local_kwh, 6), round(d.other_kwh, 6)) for d in charts["C"]] == [("2025-06-10", 1.5, 2.0)]
    assert [(round(d.local_kwh, 6), round(d.other_kwh, 6)) for d in charts["P"]] == [(1.5, 1.5)]


def test_html_shows_every_line_totals_chart_and_not_yet_committed(billed):
    result, charts = billed
    s = result.statements["C"]
    html = render_html(s, charts["C"])
    for x in s.lines:
        assert x.label.replace("&", "&amp;") in html and str(x.amount) in html
    assert str(s.totals["supplier"].ttc) in html and "<svg" in html and "not yet committed" in html
    assert "<link" not in html and "<script" not in html and "src=" not in html  # self-contained


def test_html_carries_the_verification_reference(billed):
    result, charts = billed
    html = render_html(result.statements["C"], charts["C"], REFERENCE)
    assert all(v in html for v in [REFERENCE["statement_root"], REFERENCE["leaf_salt"], *REFERENCE["proof"]])
    assert "not yet committed" not in html and result.statements["C"].digest() in html


def test_pdf_renders_with_the_statement(billed):
    result, charts = billed
    pdf = render_pdf(result.statements["C"], charts["C"], REFERENCE)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and len(pdf) > 2000
    assert render_pdf(result.statements["C"], charts["C"], REFERENCE) == pdf  # reproducible (no timestamp)
    try:
        from pypdf import PdfReader
    except ImportError:
        return
    import io

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "2025-06" in text and REFERENCE["leaf_salt"] in text


def test_a_pmo_statement_without_energy_still_renders(billed):
    result, _ = billed
    assert "No energy this period" in render_html(result.statements["pmo"], [])
    assert render_pdf(result.statements["pmo"], []).startswith(b"%PDF-")
