"""How the processes log: lines for a person at a terminal, or JSON for a log store.

``LOG_FORMAT=json`` writes one JSON object per line, with the fields a log
line carries as ``extra`` (the consumer and the outbox relay add ``event_id``
and ``city``), so a log store can find every line about one event or one city.
Only ids, kinds and cities go in such fields: never a participant's name.
"""
import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# What every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((key, value) for key, value in vars(record).items() if key not in _STANDARD)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(verbose: bool = False, env: Mapping[str, str] | None = None) -> None:
    """Log to standard error, as text or as JSON (``LOG_FORMAT=json``): warnings and worse,
    or from ``LOG_LEVEL`` (``INFO``, ...), or everything from INFO up when ``verbose``."""
    env = os.environ if env is None else env
    level = logging.INFO if verbose else env.get("LOG_LEVEL", "WARNING").strip().upper()
    handler = logging.StreamHandler()
    json_lines = env.get("LOG_FORMAT", "text").strip().lower() == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
