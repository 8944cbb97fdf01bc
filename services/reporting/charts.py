"""The report's charts, drawn with reportlab's graphics: one drawing goes into the PDF as
it is and into the HTML and beside the Markdown as SVG (no plotting library needed)."""
from reportlab.graphics import renderSVG
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

WIDTH = 460
PRE, POST = colors.HexColor("#9bb7d4"), colors.HexColor("#1f4e79")
LABEL_CHARS = 42  # longer labels are cut: the tables beside the chart give them whole


def _label(text):
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def _frame(rows, title, bar_rows):
    height = 60 + 22 * rows * bar_rows
    drawing = Drawing(WIDTH, height)
    drawing.add(String(0, height - 14, title, fontName="Helvetica-Bold", fontSize=10))
    chart = HorizontalBarChart()
    chart.x, chart.y = 190, 30
    chart.width, chart.height = WIDTH - 210, height - 60
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.reverseDirection = True  # first row on top, as in the tables
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.barLabels.fontSize = 6
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 2
    return drawing, chart


def pre_post(rows, title, pre_label, post_label):
    """Grouped bars: pre-test and post-test mean percent for each (label, pre, post)."""
    drawing, chart = _frame(len(rows), title, 2)
    # Series run bottom-up within a group once the axis is reversed: post first puts pre on top.
    chart.data = [[post or 0 for _, _, post in rows], [pre or 0 for _, pre, _ in rows]]
    chart.categoryAxis.categoryNames = [_label(label) for label, _, _ in rows]
    chart.valueAxis.valueMax = 100
    chart.valueAxis.valueStep = 20
    chart.bars[0].fillColor, chart.bars[1].fillColor = POST, PRE
    chart.barLabelFormat = "%.0f"
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 190, 12
    legend.fontSize = 7
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.colorNamePairs = [(PRE, pre_label), (POST, post_label)]
    drawing.add(legend)
    return drawing


def counts(rows, title):
    """One bar per (label, count)."""
    drawing, chart = _frame(len(rows), title, 1)
    chart.data = [[n for _, n in rows]]
    chart.categoryAxis.categoryNames = [_label(label) for label, _ in rows]
    chart.bars[0].fillColor = POST
    chart.barLabelFormat = "%d"
    drawing.add(chart)
    return drawing


def svg(drawing):
    return renderSVG.drawToString(drawing)
