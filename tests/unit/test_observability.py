"""What operators read: JSON log lines carrying event id and city, the outbox backlog's age."""
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from shared import logs
from shared.metrics import OutboxAgeCollector


def test_a_json_log_line_carries_the_event_id_and_city_given_as_extra():
    record = logging.LogRecord("shared.consumer", logging.WARNING, __file__, 1, "%s could not handle it",
                               ("reporting",), None)
    record.event_id = "3f1c9a2e-0000-4000-8000-000000000001"
    record.city = "surabaya"
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "reporting could not handle it"
    assert line["level"] == "WARNING" and line["logger"] == "shared.consumer"
    assert line["event_id"] == "3f1c9a2e-0000-4000-8000-000000000001" and line["city"] == "surabaya"
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


@pytest.fixture
def root_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("env, formatter", [({"LOG_FORMAT": "json"}, logs.JsonFormatter),
                                            ({}, logging.Formatter)])
def test_log_format_json_chooses_json_lines_and_anything_else_text(root_logging, env, formatter):
    logs.configure(env={**env, "LOG_LEVEL": "info"})
    assert type(root_logging.handlers[0].formatter) is formatter
    assert root_logging.level == logging.INFO


def test_the_outbox_backlog_ages_at_each_scrape_and_is_zero_without_one():
    collector = OutboxAgeCollector()
    collector.oldest = {"registration": datetime.now(timezone.utc) - timedelta(seconds=90), "reporting": None}
    ages = {s.labels["service"]: s.value for family in collector.collect() for s in family.samples}
    assert 89 < ages["registration"] < 100
    assert ages["reporting"] == 0
