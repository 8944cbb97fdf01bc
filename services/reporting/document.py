"""A report's data rendered: HTML through its template, PDF from that HTML, and Markdown.

Nothing here parses text.  Each report kind has one HTML template
(``templates/<kind>-report.html.j2``), rendered with autoescaping, so
whatever anyone typed (a name, an agenda, a narrative) is printed as text and
never read as markup; the PDF is WeasyPrint's layout of that same HTML, with
DejaVu Sans embedded from the system's fonts and nothing else fetched.  The
Markdown templates escape every value they print (``markdown_text``), so a
``|`` in a name stays in its cell and ``![`` or ``**`` stay characters.
"""
import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from services.reporting.report import Report, Words

# DejaVu Sans, from Debian's fonts-dejavu-core (or the same files elsewhere): the PDF embeds it.
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/local/share/fonts/dejavu"))
FONT_FILES = {"normal": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}
MANY = 5  # the plural form a marker ("<5": 1 to 4 people, "x": hidden) is written with


# --- HTML -------------------------------------------------------------------

@cache
def _environment(kind: str, lang: str) -> Environment:
    """One environment per format and language: HTML autoescaped, Markdown escaped by ``finalize``."""
    words = Words(lang)
    if kind == "html":
        environment = Environment(loader=PackageLoader("services.reporting", "templates"), autoescape=True,
                                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                  extensions=["jinja2.ext.i18n"], finalize=breakable)
        environment.filters["css_string"] = css_string
        environment.globals["column_widths"] = column_widths
        environment.filters["running"] = running
    else:
        environment = Environment(loader=PackageLoader("services.reporting", "templates"), autoescape=False,
                                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                  keep_trailing_newline=True, extensions=["jinja2.ext.i18n"],
                                  finalize=_markdown_finalize)
        environment.filters["md"] = MarkdownText
        environment.filters["cell"] = markdown_cell
    # gettext's own "%(num)s" is the bare integer: plurals print it as Babel formats it for the language.
    # A public report's count may be a marker ("<5", "x"): it is printed as it is, in the plural form.
    environment.install_gettext_callables(
        gettext=words.catalogue.gettext,
        ngettext=lambda singular, plural, n: words.catalogue.ngettext(
            singular, plural, n if isinstance(n, int) else MANY).replace("%(num)s", words.number(n)),
        newstyle=True)
    environment.globals.update(words=words, lang=lang)
    return environment


def html(report: Report) -> str:
    """The report as one HTML page: its charts inline as SVG, its styles inside."""
    template = _environment("html", report.lang).get_template(f"{report.kind}-report.html.j2")
    return template.render(report=report, **report.context)


LONG_WORD = 40  # longer than words (and most links) people type
WORD_PIECE = 16  # short enough that the layout finds the next break within the text it measures
_LONG_WORD = re.compile(rf"\S{{{LONG_WORD + 1},}}")
ZERO_WIDTH_SPACE = "\u200b"


def breakable(value: Any) -> Any:
    """Text with a line-break opportunity (a zero-width space) in each stretch of a very long word.

    A word of thousands of characters then wraps like any text, in a browser and in the PDF alike,
    where breaking it anywhere would make the layout measure it again for every line.  Markup (a
    macro's, a chart's) is left as it is; the text is escaped after this, by autoescaping.
    """
    if not isinstance(value, str) or isinstance(value, Markup) or len(value) <= LONG_WORD:
        return value
    return _LONG_WORD.sub(lambda word: ZERO_WIDTH_SPACE.join(
        word.group()[i:i + WORD_PIECE] for i in range(0, len(word.group()), WORD_PIECE)), value)


def column_widths(table: Any) -> list[int]:
    """Each column's share of a table's width (%): numbers as wide as their longest cell, text the rest.

    Tables are laid out with these fixed widths, so a long word wraps inside its cell instead of
    making the renderer measure every way the table could be drawn.
    """
    numeric = [kind != "text" for _, kind in table.columns]
    cells = [max([len(row[c]) for row in table.shown("en")], default=0) for c in range(len(table.columns))]
    heading_words = [max(len(word) for word in heading.split()) for heading, _ in table.columns]
    longest = [max(cell, word) for cell, word in zip(cells, heading_words)]
    needed = [min(max(n, 3) * 1.5 + 3, 22) if is_number else 0 for n, is_number in zip(longest, numeric)]
    texts = [c for c, is_number in enumerate(numeric) if not is_number]
    # Short text (a day, a row number) is as narrow as numbers.
    short = [c for c in texts if cells[c] <= 4]
    for c in short:
        needed[c] = max(longest[c], 2) * 1.5 + 3
    spare = max(100 - sum(needed), 0)
    wide = [c for c in texts if c not in short]
    for c in wide:
        needed[c] = spare / len(wide)
    if not wide:
        needed = [n * 100 / sum(needed) for n in needed]
    return [round(n, 1) for n in needed]


RUNNING_CHARS = 70


def running(text: str) -> str:
    """A page header's or footer's text: the cover has it whole; every page has its first words."""
    text = " ".join(str(text).split())
    return text if len(text) <= RUNNING_CHARS else text[:RUNNING_CHARS - 1].rstrip() + "…"


def css_string(text: str) -> Markup:
    """Text as a CSS string literal (for a stylesheet's ``content``)."""
    escaped = "".join(ch if ch.isalnum() or ch in " .,:;-()" else f"\\{ord(ch):x} " for ch in str(text))
    return Markup(f'"{escaped}"')


# --- PDF ----------------------------------------------------------------------

def font_files() -> dict[str, Path]:
    """The DejaVu Sans files the PDF embeds, or a clear error naming the package that has them."""
    for directory in FONT_DIRS:
        found = {weight: directory / name for weight, name in FONT_FILES.items()}
        if all(path.is_file() for path in found.values()):
            return found
    raise RuntimeError("DejaVu Sans is not installed (Debian: apt-get install fonts-dejavu-core)")


def _font_faces(fonts: dict[str, Path]) -> str:
    return "".join(f"@font-face{{font-family:'DejaVu Sans';font-weight:{weight};src:url({path.as_uri()})}}"
                   for weight, path in fonts.items())


def pdf(report: Report, page: str | None = None) -> bytes:
    """The report's HTML (``page``, or rendered now) laid out on A4 pages, its font embedded."""
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    fonts = font_files()

    class OnlyTheFonts(URLFetcher):
        """A report refers to nothing outside itself: the renderer opens its font files and nothing else."""

        allowed = {path.as_uri() for path in fonts.values()}

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url not in self.allowed:
                raise ValueError(f"a report fetches nothing but its fonts, not {url[:80]}")
            return super().fetch(url, headers)

    fetcher = OnlyTheFonts(allowed_protocols={"file"})
    document = HTML(string=page if page is not None else html(report), url_fetcher=fetcher, base_url="about:blank")
    return document.write_pdf(stylesheets=[CSS(string=_font_faces(fonts), url_fetcher=fetcher)])


# --- Markdown -------------------------------------------------------------------

class MarkdownText(str):
    """Markdown written by a template or a macro: printed as it is, not escaped again."""


# Characters that make Markdown of text: emphasis, code, links and images, raw HTML, tables, entities.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
# What would open a block of its own (a heading, a list, a quote, a rule) at the start of a line.
_BLOCK_START = re.compile(r"^([#+=-]|\d{1,9}(?=[.)](\s|$)))")


def markdown_text(value: Any) -> str:
    """A value as Markdown that shows exactly its text: on one line, every special character escaped."""
    text = _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))
    return _BLOCK_START.sub(lambda m: m.group(0) + "\\" if m.group(0)[0].isdigit() else "\\" + m.group(0), text)


def markdown_cell(value: Any) -> MarkdownText:
    """A table cell's text: inline characters escaped (a cell never starts a line, so "-" stays "-")."""
    return MarkdownText(_SPECIAL.sub(r"\\\1", " ".join(str(value).split())))


def _markdown_finalize(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, MarkdownText | Markup):
        return str(value)
    return markdown_text(value)


def markdown(report: Report) -> str:
    """The report as Markdown, the charts as images beside it (``report.write`` writes their SVG)."""
    template = _environment("md", report.lang).get_template(f"{report.kind}-report.md.j2")
    return template.render(report=report, **report.context)
