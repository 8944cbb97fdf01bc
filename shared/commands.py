"""The edge's half of a command: input checked against its schema, or a clear refusal.

Each service keeps its commands (frozen dataclasses) in its own ``commands.py``;
entrypoints load what comes in with the operation's marshmallow schema and build
the command from it, so a handler never sees unchecked input.
"""
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError

from shared.errors import InvalidInput


def describe_fields(messages: Mapping[str, Any] | list[Any]) -> str:
    """'full_name: Missing data for required field.; category: ...' from marshmallow messages."""
    if not isinstance(messages, Mapping):
        return " ".join(str(m) for m in messages)
    parts = []
    for field, problems in sorted(messages.items(), key=lambda item: str(item[0])):
        if isinstance(problems, Mapping):
            problems = [f"{k}: {v}" for k, v in problems.items()]
        elif isinstance(problems, str):
            problems = [problems]
        parts.append(f"{field}: {' '.join(str(p) for p in problems)}")
    return "; ".join(parts)


def invalid(exc: ValidationError) -> InvalidInput:
    """marshmallow's refusal as the rules' own, each bad field named."""
    messages = exc.messages if isinstance(exc.messages, Mapping) else {"body": exc.messages}
    return InvalidInput(describe_fields(messages), fields=messages)


def validated(schema: Schema, data: Any) -> Any:
    """``schema.load(data)``, or InvalidInput naming each bad field."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise invalid(exc) from None
