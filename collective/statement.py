"""A `collective.bill.Statement` as a member reads it: self-contained HTML (inline CSS, inline SVG chart)
and PDF (reportlab tables and a reportlab.graphics chart), both rendered offline.

Both show the period, version, every line, the totals per counterparty, the member's local share per day
and a verification reference: `reference` is a dict such as {"statement_root": ..., "leaf_salt": ...,
"proof": [...]} given once the period is committed (None prints "not yet committed"), so the commit step
can render the same statement again with it.
"""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape

from collective.allocate import Allocation
from collective.bill import Contracts, Statement, local_starts, sum_by_group


class DayShare(NamedTuple):
    day: str  # local date, YYYY-MM-DD
    local_kwh: float  # consumer: local energy received; producer: production consumed locally
    other_kwh: float  # consumer: complement from the supplier; producer: surplus


def chart_data(allocation: Allocation, contracts: Contracts) -> dict[str, list[DayShare]]:
    """Per member, its local share and the rest per local day (a prosumer: its consumer side)."""
    starts = local_starts(allocation.index, allocation.step, contracts.timezone)
    days, day = np.unique(starts.strftime("%Y-%m-%d"), return_inverse=True)

    def per_day(values):  # T × n -> days × n
        return sum_by_group(values, day, len(days))

    sides = {"consumption": (allocation.consumers, per_day(allocation.autocons), per_day(allocation.complement)),
             "production": (allocation.producers, per_day(allocation.autoprod), per_day(allocation.surplus))}
    out = {}
    for member, c in contracts.members.items():
        meters, local, other = sides["consumption" if c.consumes else "production"]
        meter = contracts.meter(member, "consumption" if c.consumes else "production")
        if meter in meters:
            j = meters.index(meter)
            out[member] = [DayShare(d, float(a), float(b)) for d, a, b in zip(days, local[:, j], other[:, j])]
    return out


def _labels(statement: Statement) -> tuple[str, str]:
    return ("sold locally", "surplus") if statement.role == "producer" else ("local energy", "complement")


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


_ENV = Environment(loader=PackageLoader("collective", "templates"), autoescape=select_autoescape(["html"]))


def _svg_chart(chart: Sequence[DayShare], local: str, other: str, width: int = 720, height: int = 180) -> dict:
    top = max((d.local_kwh + d.other_kwh for d in chart), default=0.0) or 1.0
    slot = (width - 40) / max(len(chart), 1)
    bars = []
    for i, d in enumerate(chart):
        h_local, h_other = height * d.local_kwh / top, height * d.other_kwh / top
        bars.append({"day": d.day, "local": f"{d.local_kwh:.1f}", "other": f"{d.other_kwh:.1f}",
                     "x": f"{40 + i * slot:.1f}", "w": f"{slot * 0.8:.1f}",
                     "y_local": f"{height - h_local:.1f}", "h_local": f"{h_local:.1f}",
                     "y_other": f"{height - h_local - h_other:.1f}", "h_other": f"{h_other:.1f}",
                     "label": d.day[8:] if i % 5 == 0 else ""})
    return {"bars": bars if any(d.local_kwh or d.other_kwh for d in chart) else [], "width": width, "height": height,
            "top": f"{top:.1f}", "local": local, "other": other}


def _flat(reference: Mapping | None, prefix: str = "") -> dict | None:
    """A reference with its nested parts (the leaf's entry) as dotted keys, values or lists of values."""
    if reference is None:
        return None
    flat = {}
    for key, value in reference.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def render_html(statement: Statement, chart_data: Sequence[DayShare], reference: dict | None = None) -> str:
    """The statement as one self-contained HTML page (no external resource)."""
    reference = _flat(reference)
    return _ENV.get_template("statement.html").render(
        s=statement, counterparties=sorted(set(statement.totals) | set(statement.due)),
        chart=_svg_chart(chart_data, *_labels(statement)), reference=reference, digest=statement.digest(),
        pct=_pct, cents=lambda c: f"{Decimal(c).scaleb(-2):.2f}")


def render_pdf(statement: Statement, chart_data: Sequence[DayShare], reference: dict | None = None) -> bytes:
    """The statement as a PDF (A4), built in memory with reportlab; same content as the HTML."""
    reference = _flat(reference)
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from xml.sax.saxutils import escape

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    mono = styles["Code"].clone("mono", fontSize=6.5, leading=8)
    grid = TableStyle([("FONTSIZE", (0, 0), (-1, -1), 7.5), ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                       ("ALIGN", (1, 0), (-2, -1), "RIGHT"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])
    s = statement
    story = [Paragraph(f"Energy community statement: {escape(s.member)}", styles["Title"]),
             Paragraph(f"Period {s.period} · version {s.version} · role {escape(s.role)}", styles["BodyText"]),
             Spacer(1, 4 * mm), Paragraph("Lines", styles["Heading2"])]
    rows = [["Line", "Quantity", "Unit price (€)", "Amount HT (€)", "VAT", "Payer → payee"]]
    rows += [[Paragraph(escape(x.label), small), f"{x.quantity} {x.unit}", str(x.unit_price), str(x.amount),
              _pct(x.vat_rate), Paragraph(escape(f"{x.payer} → {x.payee}"), small)] for x in s.lines]
    story.append(Table(rows, colWidths=[70 * mm, 24 * mm, 20 * mm, 20 * mm, 12 * mm, 34 * mm], repeatRows=1, style=grid))
    story += [Paragraph("Totals per counterparty", styles["Heading2"]),
              Paragraph(f"Positive: {escape(s.member)} pays; negative: {escape(s.member)} receives.", small)]
    rows = [["Counterparty", "HT (€)", "VAT (€)", "TTC (€)", "Due now (€)"]]
    for cp in sorted(set(s.totals) | set(s.due)):
        t = s.totals.get(cp)
        rows.append([cp, *(str(getattr(t, k)) if t else "0.00" for k in ("ht", "vat", "ttc")),
                     str(s.due.get(cp, "0.00"))])
    story.append(Table(rows, colWidths=[60 * mm, 25 * mm, 25 * mm, 25 * mm, 25 * mm], style=grid))
    story.append(Paragraph(f"Local energy settled in community tokens this version: debit "
                           f"{Decimal(s.local_debit_cents).scaleb(-2):.2f} €, credit "
                           f"{Decimal(s.local_credit_cents).scaleb(-2):.2f} €.", small))
    local, other = _labels(s)
    story.append(Paragraph(f"Local share per day: {local} (green), {other} (grey), kWh", styles["Heading2"]))
    if any(d.local_kwh or d.other_kwh for d in chart_data):
        drawing = Drawing(170 * mm, 55 * mm)
        chart = VerticalBarChart()
        chart.x, chart.y, chart.width, chart.height = 12 * mm, 8 * mm, 155 * mm, 44 * mm
        chart.data = [[d.local_kwh for d in chart_data], [d.other_kwh for d in chart_data]]
        chart.categoryAxis.style = "stacked"
        chart.categoryAxis.categoryNames = [d.day[8:] if i % 5 == 0 else "" for i, d in enumerate(chart_data)]
        chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = 6
        chart.valueAxis.valueMin = 0
        chart.bars[0].fillColor, chart.bars[1].fillColor = colors.HexColor("#2da44e"), colors.HexColor("#afb8c1")
        chart.bars.strokeWidth = 0
        drawing.add(chart)
        story.append(drawing)
    else:
        story.append(Paragraph("No energy this period.", small))
    story.append(Paragraph("Verification reference", styles["Heading2"]))
    ref = [f"period: {s.period}", f"version: {s.version}",
           f"statement digest (keccak256 of the canonical JSON): {s.digest()}"]
    if reference:
        for key, value in reference.items():
            ref.append(f"{key}: {value}" if isinstance(value, (str, int, float)) else
                       f"{escape(str(key))}:<br/>" + "<br/>".join(f"&nbsp;&nbsp;{escape(str(v))}" for v in value))
    else:
        ref.append("not yet committed")
    story += [Paragraph(line if "<br/>" in line else escape(line), mono) for line in ref]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=f"Statement {s.member} {s.period} v{s.version}",
                      leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                      invariant=True).build(story)
    return buffer.getvalue()


def write_statements(statements: Mapping[str, Statement], charts: Mapping[str, Sequence[DayShare]], out: Path,
                     references: Mapping[str, dict] | None = None) -> Path:
    """Each party's statement as `out`/<party>.html and .pdf, with its verification reference if given."""
    out.mkdir(parents=True, exist_ok=True)
    for party, statement in statements.items():
        reference = (references or {}).get(party)
        base = out / party
        base.with_suffix(".html").write_text(render_html(statement, charts.get(party, []), reference), encoding="utf-8")
        base.with_suffix(".pdf").write_bytes(render_pdf(statement, charts.get(party, []), reference))
    return out
