"""Every list of the API comes in pages: ``?limit=`` (1 to 1000, 100 if not given) and ``?cursor=``.

A page answers ``{"items": [...], "next_cursor": "..."}`` (a list of something, such as a
rollout's committee list, says what it is of beside them); ``next_cursor`` is null on the
last page and otherwise the ``cursor`` that asks for the next one.  Pages follow the
entries' ids (keyset: ``WHERE id > after``, never an OFFSET that grows with the list), so an
entry added or removed while a client pages neither repeats nor hides another.  The cursor
is opaque to clients: the id of the last entry given, encoded.

A list declares ``query=`` a schema built on ``PageQuery`` and ``response=page_of(ItemOut)``;
the loaded query holds ``page`` (a ``Page``), which the command hands to its repository, and
the repository answers a ``PageOf`` its items, which the page schema dumps.
"""
import base64
import binascii
import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from marshmallow import Schema, ValidationError, fields, post_load, validate

from shared.commands import describe_fields
from shared.safe_input import INT_MAX, Malformed

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """The part of a list asked for: at most ``limit`` entries after the one whose id is ``after``
    (None: from the start)."""

    limit: int = DEFAULT_LIMIT
    after: int | None = None


FIRST_PAGE = Page()  # of the default size: what a handler gives when it is not asked for a page


@dataclass(frozen=True)
class PageOf(Generic[T]):
    """A page of a list: its entries, and the id the next page starts after (None: the last page)."""

    items: list[T]
    next_after: int | None = None


def _by_id(entry: Any) -> int:
    return int(entry.id)


def keyset(query: Any, id_column: Any, page: Page, newest_first: bool = False) -> Any:
    """A SQLAlchemy ``query`` in id order from after ``page.after``, one entry longer than the page:
    that one more tells whether another page follows (``cut``)."""
    if page.after is not None:
        query = query.where(id_column < page.after if newest_first else id_column > page.after)
    return query.order_by(id_column.desc() if newest_first else id_column).limit(page.limit + 1)


def cut(rows: Sequence[T], page: Page, key: Callable[[T], int] = _by_id) -> PageOf[T]:
    """The page out of what ``keyset`` found."""
    items = list(rows[:page.limit])
    return PageOf(items, key(items[-1]) if len(rows) > page.limit else None)


def in_memory(rows: Iterable[T], page: Page, key: Callable[[T], int] = _by_id,
              newest_first: bool = False) -> PageOf[T]:
    """What ``keyset`` and ``cut`` answer, over entries in memory (the repositories' fakes)."""
    ordered = sorted(rows, key=key, reverse=newest_first)
    if page.after is not None:
        after = page.after
        ordered = [row for row in ordered if (key(row) < after if newest_first else key(row) > after)]
    return cut(ordered, page, key)


def every(read: Callable[[Page], PageOf[T]]) -> list[T]:
    """Every entry of a list that ``read(page)`` answers page by page (for a rule that needs them all)."""
    found: list[T] = []
    page = Page(MAX_LIMIT)
    while True:
        part = read(page)
        found += part.items
        if part.next_after is None:
            return found
        page = Page(MAX_LIMIT, part.next_after)


# --- the cursor: opaque to clients -------------------------------------------------------

CURSOR_PROBLEM = "is not a cursor this list gave: leave it out for the first page, then pass next_cursor"


def encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor starts after; ``ValidationError`` for anything ``encode_cursor`` did not make."""
    try:
        after = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["after"]
    except (ValueError, TypeError, KeyError, IndexError, binascii.Error):
        after = None
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= INT_MAX:
        raise ValidationError(CURSOR_PROBLEM)
    return after


class Cursor(fields.Field):
    """A position in a list, a string to clients: loaded as the id it starts after, dumped encoded."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else encode_cursor(value)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int:
        if not isinstance(value, str):
            raise ValidationError(CURSOR_PROBLEM)
        return decode_cursor(value)


class PageQuery(Schema):
    """The query string of a list (its own query schema builds on this): ``limit`` and ``cursor``,
    loaded as ``page``.  A bad one is not a choice among values but a malformed request: 400."""

    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": f"Entries per page, 1 to {MAX_LIMIT} ({DEFAULT_LIMIT} if not "
                                                    "given)."})
    cursor = Cursor(load_default=None, metadata={
        "type": "string", "description": "Where the page starts: the previous page's next_cursor; leave it out "
                                         "for the first."})

    @post_load
    def as_page(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["page"] = Page(data.pop("limit"), data.pop("cursor"))
        return data

    def handle_error(self, error: ValidationError, data: Any, **kwargs: Any) -> None:
        messages = error.messages if isinstance(error.messages, dict) else {}
        paging = [name for name in ("limit", "cursor") if name in messages]
        if paging:
            raise Malformed(describe_fields(messages), fields=messages, field=paging[0])


class PageOut(Schema):
    """A page of a list (``page_of`` makes one for each kind of entry)."""

    next_cursor = Cursor(attribute="next_after", required=True, allow_none=True, metadata={
        "type": "string", "description": "The cursor of the next page; null on the last."})


@functools.cache
def page_of(item: type[Schema]) -> type[PageOut]:
    """The answer schema of a list of ``item``s: ``RolloutOut`` gives ``RolloutPage``."""
    name = item.__name__.removesuffix("Out") + "Page"
    return type(name, (PageOut,), {
        "__doc__": f"A page of {item.__name__}: ``items``, and ``next_cursor`` for the next page.",
        "__module__": item.__module__,
        "items": fields.List(fields.Nested(item, required=True), required=True)})
