"""A report's Markdown as HTML and as PDF.

The reports use a small part of Markdown (headings, paragraphs, lists, tables,
bold, a rule, chart images), so it is read here into blocks and each block is
written out as HTML or as reportlab flowables; the charts go in as drawings.
"""
import html as html_escape
import io
import re

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import (HRFlowable, ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer, Table,
                                TableStyle)

from services.reporting import charts

IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]+)\)$")
BOLD = re.compile(r"\*\*(.+?)\*\*")


def blocks(markdown):
    """(kind, content) pairs: heading (level, text), paragraph, list, table (rows), image, rule."""
    found, lines = [], markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line:
            i += 1
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            found.append(("heading", (level, line[level:].strip())))
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [cell.strip() for cell in lines[i].strip().strip("|").split("|")]
                if not all(set(cell) <= set("-:") for cell in cells):
                    rows.append(cells)
                i += 1
            found.append(("table", rows))
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(lines[i][2:].strip())
                i += 1
            found.append(("list", items))
        elif line == "---":
            found.append(("rule", None))
            i += 1
        elif IMAGE.match(line):
            match = IMAGE.match(line)
            found.append(("image", (match["alt"], match["src"])))
            i += 1
        else:
            text = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "|", "- ", "![")) \
                    and lines[i].strip() != "---":
                text.append(lines[i].strip())
                i += 1
            found.append(("paragraph", " ".join(text)))
    return found


def _inline(text, bold=("<strong>", "</strong>")):
    return BOLD.sub(lambda m: f"{bold[0]}{m.group(1)}{bold[1]}", html_escape.escape(text, quote=False))


CSS = """body{font-family:Helvetica,Arial,sans-serif;max-width:50em;margin:2em auto;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #bbb;padding:.25em .6em}
th{background:#e8eef5}td.n{text-align:right}figure{margin:1em 0}"""


def html(report):
    body = []
    for kind, content in blocks(report.markdown):
        if kind == "heading":
            level, text = content
            body.append(f"<h{level}>{_inline(text)}</h{level}>")
        elif kind == "paragraph":
            body.append(f"<p>{_inline(content)}</p>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in content) + "</ul>")
        elif kind == "rule":
            body.append("<hr>")
        elif kind == "table":
            head, *rows = content
            cells = "".join(f"<th>{_inline(c)}</th>" for c in head)
            body.append(f"<table><thead><tr>{cells}</tr></thead><tbody>" + "".join(
                "<tr>" + "".join(f'<td{_numeric(c)}>{_inline(c)}</td>' for c in row) + "</tr>" for row in rows
            ) + "</tbody></table>")
        elif kind == "image":
            alt, src = content
            drawing = report.charts.get(src)
            if drawing is not None:
                svg = charts.svg(drawing).split("?>", 1)[-1]  # inline: without the XML declaration
                body.append(f'<figure role="img" aria-label="{html_escape.escape(alt)}">{svg}</figure>')
    return (f'<!DOCTYPE html>\n<html lang="{report.lang}"><head><meta charset="utf-8">'
            f"<title>{html_escape.escape(report.title)}</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _numeric(cell):
    return ' class="n"' if re.fullmatch(r"[-<\d.,%* ]+", cell) else ""


def pdf(report):
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontSize=9.5, leading=13)
    cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=10)
    small = ParagraphStyle("small", parent=cell, fontSize=7, leading=8.5)  # for wide tables
    heading = {1: styles["Title"], 2: styles["Heading2"], 3: styles["Heading3"]}
    bold = ("<b>", "</b>")
    story = []
    for kind, content in blocks(report.markdown):
        if kind == "heading":
            level, text = content
            story.append(Paragraph(_inline(text, bold), heading.get(level, styles["Heading4"])))
        elif kind == "paragraph":
            story.append(Paragraph(_inline(content, bold), body))
        elif kind == "list":
            story.append(ListFlowable([ListItem(Paragraph(_inline(item, bold), body)) for item in content],
                                      bulletType="bullet", leftIndent=12))
        elif kind == "rule":
            story.append(HRFlowable(width="100%", color=colors.grey, spaceBefore=6, spaceAfter=6))
        elif kind == "table":
            style = cell if len(content[0]) <= 6 else small
            rows = [[Paragraph(_inline(c, bold), style) for c in row] for row in content]
            table = Table(rows, repeatRows=1, hAlign="LEFT", colWidths=_widths(content, style.fontSize))
            table.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]))
            story += [table, Spacer(1, 6)]
        elif kind == "image":
            drawing = report.charts.get(content[1])
            if drawing is not None:
                story += [drawing, Spacer(1, 6)]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=report.title, leftMargin=2 * cm,
                                 rightMargin=2 * cm, topMargin=2 * cm, bottomMargin=2 * cm)
    document.build(story)
    return buffer.getvalue()


def _widths(rows, font_size):
    """Number columns as wide as their longest word; text columns share what is left of the page."""
    page = A4[0] - 4 * cm
    columns = len(rows[0])
    numeric = [len(rows) > 1 and all(_numeric(row[c]) for row in rows[1:]) for c in range(columns)]
    # A Helvetica character is at most about 0.6 em wide; a cell pads 6 points on each side.
    needed = [14 + 0.62 * font_size * max(len(word) for row in rows for word in (row[c].split() or [""]))
              for c in range(columns)]
    spare = page - sum(needed)
    texts = columns - sum(numeric)
    if spare < 0 or not texts:  # too wide (or nothing to widen): every column shrinks or grows alike
        return [n * page / sum(needed) for n in needed]
    return [n if is_numeric else n + spare / texts for n, is_numeric in zip(needed, numeric)]
