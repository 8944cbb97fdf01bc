"""What no request of ours could be is refused at the door, naming where it was."""
import pytest

from shared.errors import InvalidInput
from shared.safe_input import MAX_DEPTH, Malformed, check_text, load_json


@pytest.mark.parametrize("raw, field, malformed", [
    (b"[" * 10_000 + b"]" * 10_000, "body", True),
    (b'{"venue": "\xff\xfe"}', "body", True),
    (b'{"venue": ', "body", True),
    (b'{"full_name": "Ani\\u0000"}', "full_name", False),
    (b'{"sessions": [{"topics": ["ok", "bell\\u0007"]}]}', "sessions.0.topics.1", False),
    (b'{"rollout_id": 1099511627776}', "rollout_id", False),
    (b'{"capacity": -2147483649}', "capacity", False),
    (b'{"na\\u0000me": "x"}', "na\x00me", False),
])
def test_hostile_json_is_refused_naming_the_field(raw, field, malformed):
    with pytest.raises(InvalidInput) as refused:
        load_json(raw)
    assert refused.value.details["field"] == field
    assert isinstance(refused.value, Malformed) is malformed


def test_ordinary_text_in_every_script_with_lines_and_tabs_passes():
    body = load_json('{"full_name": "محمد علي", "notes": "line one\\nline\\ttwo", "n": 2147483647}'.encode())
    assert body["full_name"] == "محمد علي"
    check_text("Dédé Kurniawan — Unit PPA", "full_name")


def test_nesting_up_to_the_limit_is_read():
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
