"""Which failures end by themselves (wait them out) and which never will (dead-letter them).

A database restarting, a connection refused, a deadlock or a serialization
conflict will pass: the same message succeeds once it has.  A message that
breaks its contract, or a bug, fails however often it is tried.  Only the
second kind may spend a message's delivery limit.

The same holds for the broker: a connection refused or reset while the node restarts
is waited out (the consumers reconnect, the outbox keeps its rows), and an operation
that cannot work without it answers 503 (``unavailable_message``).
"""
import logging
import random
import socket
import time

from amqp import exceptions as amqp_errors
from kombu import exceptions as kombu_errors
from sqlalchemy import exc as sa

from shared.errors import Unavailable

# PostgreSQL error classes that say "try again": connection exceptions (08),
# serialization failure and deadlock (40), lock not available (55P03),
# operator intervention such as a shutdown (57), insufficient resources (53).
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57")
TRANSIENT_SQLSTATES = ("55P03",)


BROKER_ERRORS = (kombu_errors.OperationalError, amqp_errors.RecoverableConnectionError,
                 amqp_errors.ConnectionForced)

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."
BROKER_UNAVAILABLE = "The message broker is unavailable, so this cannot be done now; try again shortly."


def is_transient(error: BaseException) -> bool:
    if isinstance(error, (Unavailable, sa.DisconnectionError, sa.TimeoutError, socket.timeout,
                          ConnectionError, TimeoutError, *BROKER_ERRORS)):
        return True
    if isinstance(error, sa.DBAPIError):
        if error.connection_invalidated or isinstance(error, (sa.OperationalError, sa.InterfaceError)):
            return True
        sqlstate = getattr(error.orig, "pgcode", None) or ""
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES
    return False


def unavailable_message(error: BaseException) -> str | None:
    """What to tell an API caller when ``error`` is an outage (for a 503), else None."""
    if isinstance(error, sa.DBAPIError) and is_transient(error):
        return DATABASE_UNAVAILABLE
    if isinstance(error, (*BROKER_ERRORS, ConnectionError, socket.timeout, TimeoutError)):
        return BROKER_UNAVAILABLE  # a database error always comes wrapped by SQLAlchemy: this is the broker
    return None


def backoff(attempt: int, first: float = 0.5, cap: float = 10.0) -> float:
    """Seconds before try ``attempt`` (1, 2, ...): doubling from ``first`` up to ``cap``,
    with "full jitter" so that many consumers do not come back at the same instant."""
    return random.uniform(first / 2, min(cap, first * 2 ** (attempt - 1)))


class QuietTransientErrors(logging.Filter):
    """nameko logs every failed worker with its traceback.  During an outage a timer or a
    consumer fails every few moments, and the traceback says nothing the first line does not:
    a transient failure is one line, at most once a minute for each entrypoint."""

    EVERY = 60.0

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and "error handling worker" in record.msg
                and isinstance(record.args, tuple) and len(record.args) == 2):
            return True
        worker, error = record.args
        if not isinstance(error, BaseException) or not is_transient(error):
            return True
        entrypoint = getattr(worker, "entrypoint", None)
        where = f"{getattr(worker, 'service_name', '?')}.{getattr(entrypoint, 'method_name', '?')}"
        now = time.monotonic()
        if now - self.last.get(where, -self.EVERY) < self.EVERY:
            return False
        self.last[where] = now
        record.msg, record.args = "%s failed for now (%s): the database or the broker is away", (
            where, type(error).__name__)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


logging.getLogger("nameko.containers").addFilter(QuietTransientErrors())
