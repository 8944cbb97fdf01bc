"""What the hostile-input tests share: the door's own corpus, and what a refusal must say.

Each service's module (tests/unit/test_hostile_input_<service>.py) adds the cases
of its own fields; every case ends in a 4xx naming the field (or a value made
harmless), and the module checks that nothing of a refused request was written.
"""
import json

MAX_REQUEST_BYTES = 1024 * 1024  # the services' limit in these tests: past it is cheap to send
JSON = {"Content-Type": "application/json"}


def field_named(error, path):
    """Whether the error names ``path`` (``sessions.1.date``): as its field, or among its fields or rows."""
    if error.get("field") == path or path in (error.get("fields") or {}):
        return True
    found = error.get("fields") or {}
    for part in path.split("."):
        if not isinstance(found, dict) or part not in found:
            break
        found = found[part]
    else:
        return True
    return any(row.get("field") == path for row in error.get("rows") or [])


def assert_refused(answer, status, field=None):
    """A refusal with ``status``, a message and (if given) ``field`` named, and no traceback."""
    assert answer.status_code == status, f"{answer.status_code} {answer.text[:500]}"
    error = answer.json()["error"]
    assert error["message"] and "Traceback" not in answer.text
    if field is not None:
        assert field_named(error, field), f"{field} not named in {json.dumps(error)[:500]}"


def at_the_door(good_body, text_field):
    """(case id, request keywords, status, field) every JSON body meets before its schema (shared.safe_input)."""
    return [
        ("json-nested-10000-deep", {"data": b"[" * 10_000 + b"]" * 10_000, "headers": JSON}, 400, "body"),
        ("bytes-not-utf8", {"data": b'{"' + text_field.encode() + b'": "\xff\xfe"}', "headers": JSON}, 400, "body"),
        ("json-unfinished", {"data": b'{"' + text_field.encode() + b'": ', "headers": JSON}, 400, "body"),
        (f"nul-in-{text_field}", {"json": {**good_body, text_field: "a\u0000b"}}, 422, text_field),
        (f"escape-in-{text_field}", {"json": {**good_body, text_field: "\u001b[31mred"}}, 422, text_field),
        ("body-past-the-limit", {"data": b" " * (MAX_REQUEST_BYTES + 1), "headers": JSON}, 413, None),
    ]
