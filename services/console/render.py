"""The console's pages from its Jinja2 templates: HTML escaped, words in the reader's language.

Bahasa Indonesia is the default; English is a switch away.  The words are written in English
in the templates and code (``_("...")``) and translated through ``locale/id`` (gettext, Babel);
numbers and dates are written as each language writes them.
"""
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.support import NullTranslations, Translations
from jinja2 import Environment, PackageLoader, StrictUndefined

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "console"


def language(wanted: str | None) -> str:
    return wanted if wanted in LANGUAGES else DEFAULT_LANGUAGE


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue of ``lang``: the words are written in English, so English needs none."""
    if lang == "en":
        return NullTranslations()
    found = Translations.load(str(LOCALE_DIR), [lang], domain=DOMAIN)
    if not isinstance(found, Translations):
        raise RuntimeError(f"the {lang} catalogue is missing from {LOCALE_DIR} (pybabel compile)")
    return found


def gettext(lang: str, message: str, **values: Any) -> str:
    """A message of the code (not of a template) in ``lang``, its ``%(name)s`` filled in."""
    text = translations(lang).gettext(message)
    return text % values if values else text


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


@cache
def _group(lang: str) -> str:
    """The language's thousands separator: "." in Bahasa Indonesia, "," in English."""
    return str(_locale(lang).number_symbols["latn"]["group"])


@cache
def _pattern(pattern: str) -> babel_numbers.NumberPattern:
    return babel_numbers.parse_pattern(pattern)


def _formatted(value: float, pattern: str, lang: str) -> str:
    # Babel's format_decimal, with the locale and the pattern parsed once: a dashboard writes thousands.
    return _pattern(pattern).apply(value, _locale(lang))


def number(value: Any, lang: str) -> str:
    """A count as the language writes it (1.234 / 1,234); a public marker ("<5", "x") as it is."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}".replace(",", _group(lang))
    return _formatted(value, "#,##0", lang)


def percent(value: float | None, lang: str) -> str:
    return "-" if value is None else _formatted(value, "#,##0.0", lang) + "%"


def decimal(value: float | None, lang: str) -> str:
    return "-" if value is None else _formatted(value, "0.00", lang)


def day(value: Any, lang: str) -> str:
    """A date (or an ISO string of one) as "2 Mei 2019" / "2 May 2019"."""
    if not value:
        return "-"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return babel_dates.format_date(value, "d MMMM y", locale=lang)


def moment(value: Any, lang: str) -> str:
    """A time (an ISO string from the API, in UTC) as "2 Mei 2019 09.30 UTC"."""
    if not value:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return babel_dates.format_datetime(value, "d MMM y HH:mm", locale=lang) + " UTC"


@cache
def environment(lang: str) -> Environment:
    env = Environment(loader=PackageLoader("services.console", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        number=lambda v: number(v, lang), percent=lambda v: percent(v, lang),
        decimal=lambda v: decimal(v, lang), day=lambda v: day(v, lang), moment=lambda v: moment(v, lang))
    from services.console.words import label

    env.globals.update(lang=lang, label=lambda kind, value: label(kind, value, lang))
    return env


def render(template: str, lang: str, **context: Any) -> str:
    return environment(lang).get_template(template).render(**context)
