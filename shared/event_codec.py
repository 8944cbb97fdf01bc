"""Event payloads made and read without marshmallow's per-field machinery, where that is exact.

``Event.create`` dumps and loads each payload through its schema (about 0.2 ms)
and ``Event.load`` loads it (about 0.09 ms): more than the whole pipeline's
CPU budget per participant.  Most events are flat: integers, strings,
booleans, a UUID, a moment, a date.  For those this module checks and converts
each field directly, and only in the plain form a producer writes (an int
that is an int, a str that is a str, ...); any other value, a missing field,
or a schema with nested fields goes through the schema itself, so the answer,
and the ValidationError, are marshmallow's own.
"""
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timezone
from functools import cache
from typing import Any

from marshmallow import fields, validate

from shared.events import Event


class _Fallback(Exception):
    """Not the plain form: let the schema decide."""


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise _Fallback
    return value


def _string(value: Any) -> str:
    if type(value) is not str:
        raise _Fallback
    return value


def _boolean(value: Any) -> bool:
    if type(value) is not bool:
        raise _Fallback
    return value


def _float(value: Any) -> float:
    if type(value) is not float:
        raise _Fallback
    return value


def _uuid(value: Any) -> uuid.UUID:
    if type(value) is not str or len(value) != 36:
        raise _Fallback
    return uuid.UUID(value)


def _moment(value: Any) -> datetime:
    if type(value) is not str:
        raise _Fallback
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise _Fallback
    return moment


def _date(value: Any) -> date:
    if type(value) is not str or len(value) != 10:
        raise _Fallback
    return date.fromisoformat(value)


LOADERS: dict[type, Callable[[Any], Any]] = {
    fields.Integer: _integer, fields.String: _string, fields.Boolean: _boolean, fields.Float: _float,
    fields.UUID: _uuid, fields.AwareDateTime: _moment, fields.Date: _date,
}


def _checks(field: fields.Field) -> list[Callable[[Any], bool]] | None:
    checks: list[Callable[[Any], bool]] = []
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            choices = set(validator.choices)
            checks.append(choices.__contains__)
        elif isinstance(validator, validate.Regexp):
            checks.append(_matches(validator))
        else:
            return None
    return checks


def _matches(validator: validate.Regexp) -> Callable[[Any], bool]:
    match = validator.regex.match
    return lambda value: match(value) is not None


class FlatCodec:
    """Loads the plain form of a flat event's payload as its schema would."""

    def __init__(self, event: Event, plan: list[tuple[str, Callable[[Any], Any], list, bool, bool, Any]]) -> None:
        self.event = event
        self.plan = plan  # (name, loader, checks, required, allow_none, load_default)

    def load(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self.load_plain(payload)
        except (_Fallback, ValueError):
            return self.event.load(payload)

    def load_plain(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The loaded payload; raises ``_Fallback`` (or ValueError) for anything but the plain form."""
        loaded: dict[str, Any] = {}
        for name, loader, checks, required, allow_none, default in self.plan:
            if name not in payload:
                if required:
                    raise _Fallback
                if default is not fields.missing_:
                    loaded[name] = default
                continue
            value = payload[name]
            if value is None:
                if not allow_none:
                    raise _Fallback
                loaded[name] = None
                continue
            value = loader(value)
            for check in checks:
                if not check(value):
                    raise _Fallback
            loaded[name] = value
        return loaded


@cache
def codec(event: Event) -> FlatCodec | None:
    """The fast codec of a flat event; None when a field is nested, raw or validated otherwise."""
    plan = []
    for name, field in event._schema.load_fields.items():
        loader = LOADERS.get(type(field))
        checks = _checks(field)
        default = field.load_default
        if loader is None or checks is None or callable(default) or field.data_key or type(default) is list:
            return None
        allow_none = field.allow_none
        plan.append((name, loader, checks, field.required, allow_none, default))
    return FlatCodec(event, plan)


def load(event: Event, payload: Mapping[str, Any]) -> dict[str, Any]:
    """``event.load(payload)``, faster for the plain payloads producers write."""
    fast = codec(event)
    return fast.load(payload) if fast is not None else event.load(payload)


def create_many(event: Event, occurrences: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """``[event.create(city, **fields) for ...]``: the first through the schema, the rest checked like it.

    Each payload is written as the schema would dump it and must load again as
    the schema would take it; a payload the fast path cannot vouch for goes
    through ``Event.create`` itself.
    """
    fast = codec(event)
    payloads = []
    for city, given in occurrences:
        if fast is None:
            payloads.append(event.create(city, **given))
            continue
        body = {"schema_version": event.version, "event_id": str(uuid.uuid4()),
                "occurred_at": datetime.now(timezone.utc).isoformat(), "city": city, **given}
        if any(not _plain_json(v) for v in body.values()) or set(body) - event._schema.load_fields.keys():
            payloads.append(event.create(city, **given))
            continue
        try:
            fast.load_plain(body)
        except (_Fallback, ValueError):
            payloads.append(event.create(city, **given))  # raises the schema's own ValidationError
            continue
        payloads.append(body)
    return payloads


def _plain_json(value: Any) -> bool:
    return value is None or type(value) in (str, int, bool, float)
