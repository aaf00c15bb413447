"""Any result table as a download: CSV for Excel, PDF for filing.

CSV is UTF-8 with a byte-order mark, which is how Excel recognises UTF-8 and shows Chinese
correctly. PDF is drawn with reportlab; Chinese uses the built-in Adobe CID font STSong-Light
(Adobe-GB1), which every PDF reader maps to a Song typeface it has, so nothing needs a font
file. Where a filing office requires embedded glyphs, point GOVFLOW_PDF_FONT at a TrueType CJK
font (e.g. Debian's fonts-wqy-zenhei `wqy-zenhei.ttc`): its glyphs are then embedded as a subset.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime
from urllib.parse import quote

from flask import Response

from engine.clock import to_shanghai

CID_FONT = "STSong-Light"
_font_name: str | None = None


def _font() -> str:
    """The registered font for Chinese text (once per process)."""
    global _font_name
    if _font_name is None:
        from reportlab.pdfbase import pdfmetrics

        path = os.environ.get("GOVFLOW_PDF_FONT")
        if path:
            from reportlab.pdfbase.ttfonts import TTFont

            pdfmetrics.registerFont(TTFont("GovFlowCJK", path, subfontIndex=0))
            _font_name = "GovFlowCJK"
        else:
            from reportlab.pdfbase.cidfonts import UnicodeCIDFont

            pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
            _font_name = CID_FONT
    return _font_name


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode() or "govflow-export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_shanghai(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.1%}" if 0 <= value <= 1 else f"{value:.1f}"
    return str(value)


def csv_response(filename: str, columns: list[str], rows) -> Response:
    """A CSV download (UTF-8 with BOM) of `rows` under `columns`."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return Response(out.getvalue().encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": _disposition(f"{filename}.csv")})


def pdf_bytes(title: str, lines: list[str], tables: list[tuple[str, list[str], list]],
              charts: list[tuple[str, list[str], list[float]]] = (), stamp: str = "") -> bytes:
    """A landscape A4 PDF: a title, header lines, bar charts and tables (each with a caption)."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    font = _font()
    heading = ParagraphStyle("h", fontName=font, fontSize=15, leading=20, spaceAfter=6)
    caption = ParagraphStyle("c", fontName=font, fontSize=11, leading=15, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("b", fontName=font, fontSize=9, leading=12)
    small = ParagraphStyle("s", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    buffer = io.BytesIO()
    page = landscape(A4)

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(15 * mm, 8 * mm, stamp)
        canvas.drawRightString(page[0] - 15 * mm, 8 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    doc = SimpleDocTemplate(buffer, pagesize=page, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=title, author="GovFlow")
    story = [Paragraph(_escape(title), heading)] + [Paragraph(_escape(line), body) for line in lines]
    for chart_title, labels, values in charts:
        if not values:
            continue
        drawing = Drawing(page[0] - 30 * mm, 60 * mm)
        bars = VerticalBarChart()
        bars.x, bars.y, bars.width, bars.height = 40, 30, page[0] - 30 * mm - 60, 60 * mm - 50
        bars.data = [list(values)]
        bars.categoryAxis.categoryNames = [label[:10] for label in labels]
        bars.categoryAxis.labels.fontName = font
        bars.categoryAxis.labels.fontSize = 7
        bars.valueAxis.labels.fontName = font
        bars.valueAxis.valueMin = 0
        bars.valueAxis.valueStep = max(1, -(-int(max(values)) // 5))  # whole numbers on the axis
        bars.bars[0].fillColor = colors.HexColor("#b4282d")
        drawing.add(bars)
        drawing.add(String(40, 60 * mm - 12, chart_title, fontName=font, fontSize=10))
        story.append(drawing)
    for table_caption, columns, rows in tables:
        story.append(Paragraph(_escape(table_caption), caption))
        data = [[Paragraph(_escape(c), small) for c in columns]]
        data += [[Paragraph(_escape(cell(v)), small) for v in row] for row in rows]
        if len(data) == 1:
            data.append([Paragraph("（无）", small)] + [""] * (len(columns) - 1))
        table = LongTable(data, repeatRows=1, colWidths=[(page[0] - 30 * mm) / len(columns)] * len(columns))
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story += [table, Spacer(1, 4 * mm)]
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def pdf_response(filename: str, title: str, lines: list[str], tables, charts=(), stamp: str = "") -> Response:
    """`stamp` goes in every page's footer (who exported it, when)."""
    return Response(pdf_bytes(title, lines, tables, charts, stamp), mimetype="application/pdf",
                    headers={"Content-Disposition": _disposition(f"{filename}.pdf")})


def _escape(text: str) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
