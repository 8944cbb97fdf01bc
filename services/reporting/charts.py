"""The report's charts as SVG, laid out here from the figures and written by a template.

One SVG serves everywhere: inline in the HTML (and so in the PDF made from
it) and as a file beside the Markdown.  Every id in a chart starts with the
chart's own id, so charts side by side on one page never share one; text asks
for the browser's fonts (DejaVu Sans, which the PDF embeds, then any sans-serif);
labels are wrapped onto as many lines as they need, never cut; every bar is
drawn, a zero as a hairline over the axis so it is seen to be there.  A value
that is not a number (None where a percentage was not measured or rests on a
hidden count; "<5" or "x" for a count a public report hides) gets no bar, only
its mark, so it is never read as a zero.
"""
import re
import textwrap
from dataclasses import dataclass, field
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

FONT = "'DejaVu Sans', Verdana, Arial, sans-serif"
PRE, POST, COUNT = "#8fb1d6", "#1f4e79", "#1f4e79"
LABEL_WIDTH = 210  # the label column; labels wrap inside it
LABEL_CHARS = 28  # about as many DejaVu Sans characters at 11 px fit in it, beside the axis title
LINE = 13  # a label line's height
BAR = 12  # a bar's thickness
PLOT = 280  # the bars' length at 100% (or at the largest count)
RIGHT = 60  # room after the longest bar for its value
TOP, BOTTOM = 34, 52  # the title above; the axis, its title and the legend below


@dataclass
class Bar:
    y: float
    width: float
    colour: str
    value: str  # as printed at the bar's end
    series: str
    drawn: bool = True  # False for a value that is not a number: its mark is printed, no bar


@dataclass
class Row:
    lines: list[str]  # the label, wrapped
    y: float  # the label's first baseline
    bars: list[Bar]


@dataclass
class Chart:
    """A horizontal bar chart: rows of one bar (counts) or two (pre-test and post-test)."""

    chart_id: str
    title: str
    value_axis: str  # the axis titles: what the bars measure, and what the rows are
    row_axis: str
    n_note: str  # how many people the chart rests on, printed beside it
    rows: list[Row]
    ticks: list[tuple[float, str]]
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, series)
    width: int = LABEL_WIDTH + PLOT + RIGHT
    height: float = 0

    @property
    def bar_count(self) -> int:
        return sum(bar.drawn for row in self.rows for bar in row.bars)

    def svg(self) -> Markup:
        """The chart as an inline SVG element (no XML declaration)."""
        return Markup(_template().render(chart=self, font=FONT, left=LABEL_WIDTH, plot=PLOT))

    def svg_file(self) -> str:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + str(self.svg())


@cache
def _template():
    environment = Environment(loader=PackageLoader("services.reporting", "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("chart.svg.j2")


def is_value(value) -> bool:
    """Whether ``value`` is a number a bar can show (not None, "<5" or "x")."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def chart_id(*parts: str) -> str:
    """An id for a chart's elements, unique within a report: its words, lower-case, dashed."""
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def wrap(label: str) -> list[str]:
    """A label on as many lines as it needs; a word longer than a line is broken, never dropped."""
    return textwrap.wrap(" ".join(label.split()), LABEL_CHARS, break_long_words=True) or [""]


def _layout(chart_id_: str, title, value_axis, row_axis, n_note, labelled, series, maximum, shown, ticks):
    """Rows of (label, [value per series]) laid out top to bottom, one bar per value."""
    rows, y = [], TOP
    for label, values in labelled:
        lines = wrap(label)
        block = max(len(lines) * LINE, len(values) * (BAR + 2)) + 10
        bars_top = y + (block - len(values) * (BAR + 2)) / 2
        bars = []
        for i, ((name, colour), value) in enumerate(zip(series, values)):
            if not is_value(value):
                bars.append(Bar(bars_top + i * (BAR + 2), 0, colour, shown(value), name, drawn=False))
                continue
            length = 0 if not value or not maximum else PLOT * value / maximum
            bars.append(Bar(bars_top + i * (BAR + 2), max(length, 2), colour, shown(value), name))
        label_top = y + (block - len(lines) * LINE) / 2 + LINE - 3
        rows.append(Row(lines, label_top, bars))
        y += block
    chart = Chart(chart_id_, title, value_axis, row_axis, n_note, rows,
                  [(PLOT * tick / maximum if maximum else 0, label) for tick, label in ticks],
                  legend=[(colour, name) for name, colour in series] if len(series) > 1 else [])
    chart.height = y + BOTTOM
    return chart


def pre_post(chart_id_: str, title: str, rows: list[tuple[str, float | None, float | None]], *, pre: str,
             post: str, value_axis: str, row_axis: str, n_note: str, shown) -> Chart:
    """Pre-test and post-test mean percent for each (label, pre, post), on a 0-100 axis."""
    return _layout(chart_id_, title, value_axis, row_axis, n_note,
                   [(label, [pre_value, post_value]) for label, pre_value, post_value in rows],
                   [(pre, PRE), (post, POST)], 100, shown, [(t, shown(t)) for t in range(0, 101, 20)])


def counts(chart_id_: str, title: str, rows: list[tuple[str, int | str]], *, value_axis: str, row_axis: str,
           n_note: str, shown) -> Chart:
    """One bar per (label, count)."""
    largest = max((n for _, n in rows if is_value(n)), default=0)
    step = max(1, _nice_step(largest))
    top = step * -(-largest // step) if largest else 1
    return _layout(chart_id_, title, value_axis, row_axis, n_note, [(label, [n]) for label, n in rows],
                   [(value_axis, COUNT)], top, shown, [(t, shown(t)) for t in range(0, top + 1, step)])


def _nice_step(largest: int) -> int:
    """About five ticks at 1, 2 or 5 times a power of ten."""
    rough, power = largest / 5, 1
    while power * 10 <= rough:
        power *= 10
    return next(step * power for step in (1, 2, 5, 10) if step * power >= rough)
