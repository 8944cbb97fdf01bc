"""The public contract of the summary events: a JSON Schema per kind and version in ``schemas/``.

``schemas/summary.<kind>.v<version>.json`` is what partners code against; the
tests check every summary they see against it.
"""
import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def schema_path(kind, version):
    return SCHEMAS / f"summary.{kind}.v{version}.json"


@cache
def validator(kind, version):
    schema = json.loads(schema_path(kind, version).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(routing_key, body):
    """What is wrong with a summary as published under ``routing_key``; empty when it validates."""
    parts = routing_key.split(".")
    if len(parts) != 3 or parts[0] != "summary":
        return [f"routing key {routing_key!r} is not summary.<kind>.<city>"]
    _, kind, city = parts
    found = []
    if body.get("city") != city:
        found.append(f"city {body.get('city')!r} differs from the routing key's {city!r}")
    version = body.get("schema_version")
    if not isinstance(version, int) or not schema_path(kind, version).exists():
        return found + [f"no schema for summary.{kind} version {version!r}"]
    found += [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
              for e in validator(kind, version).iter_errors(body)]
    return found
