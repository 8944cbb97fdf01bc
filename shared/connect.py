"""Waiting, at start, for the broker and the databases a process needs.

A broker or database that is still starting (a container coming up beside
ours) is waited for with an exponential backoff; one that does not answer
within ``CONNECT_TIMEOUT`` seconds stops the start with one line naming it,
never with a driver's traceback.  URLs in messages have their password masked.
"""
import time
from urllib.parse import urlsplit, urlunsplit

from amqp.exceptions import AccessRefused
from kombu import Connection
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from shared.config import is_embedded

FIRST_PAUSE = 0.25  # seconds before the second try; doubled after each try
LONGEST_PAUSE = 4.0
LONGEST_TRY = 5.0  # one connection attempt; a host that drops packets is not waited on for ever


class CannotStart(Exception):
    """Something the process needs is missing; the message is the whole story, in one line."""


def masked(url: str) -> str:
    """``url`` with its password, if any, replaced by ``****``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:****@{hostport}"))


class Deadline:
    """The time left to wait for everything a start needs, shared by each wait."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def keep_trying(attempt, deadline: Deadline, retry_on):
    """Call ``attempt(seconds_for_this_try)`` until it returns, pausing longer each time.

    Returns None on success, else the last error of a kind in ``retry_on``
    once the deadline has passed.  Any other error propagates at once.
    """
    pause = FIRST_PAUSE
    while True:
        try:
            attempt(max(0.1, min(LONGEST_TRY, deadline.left())))
            return None
        except retry_on as exc:
            if deadline.left() <= 0:
                return exc
            time.sleep(min(pause, deadline.left()))
            pause = min(pause * 2, LONGEST_PAUSE)


def reason(exc: BaseException) -> str:
    """The first line of what the driver said, without its class name or hints."""
    exc = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else exc.__class__.__name__


def wait_for_broker(amqp_uri: str, deadline: Deadline) -> None:
    if is_embedded({"AMQP_URI": amqp_uri}):
        return

    def connect(seconds):
        with Connection(amqp_uri, connect_timeout=seconds, heartbeat=0) as connection:
            connection.ensure_connection(max_retries=0)  # one try: the backoff is ours

    try:
        failure = keep_trying(connect, deadline, retry_on=(OSError, BrokerError))
    except AccessRefused:
        raise CannotStart(f"the broker at {masked(amqp_uri)} refused the login; "
                          "check the user and password (AMQP_URI)") from None
    if failure is not None:
        raise CannotStart(f"the broker at {masked(amqp_uri)} did not answer after {deadline.seconds:g} s "
                          f"({reason(failure)}); is RabbitMQ running? (AMQP_URI)")


def wait_for_database(service: str, url: str, deadline: Deadline) -> None:
    if url.startswith("sqlite"):
        return  # a file: nothing to wait for
    try:
        postgresql = make_url(url).get_backend_name() == "postgresql"
    except ArgumentError:
        raise CannotStart(f"{service.upper()}_DATABASE_URL is not a database URL: {masked(url)}") from None

    def connect(seconds):
        engine = create_engine(url, poolclass=NullPool,
                               connect_args={"connect_timeout": max(1, round(seconds))} if postgresql else {})
        try:
            engine.connect().close()
        finally:
            engine.dispose()

    failure = keep_trying(connect, deadline, retry_on=(DBAPIError, OSError))
    if failure is not None:
        raise CannotStart(f"{service}'s database at {masked(url)} did not answer after {deadline.seconds:g} s "
                          f"({reason(failure)}); is the database server running? "
                          f"({service.upper()}_DATABASE_URL)")


def wait_for_dependencies(config: dict, services) -> None:
    """Wait for the broker and each of ``services``' databases, within ``CONNECT_TIMEOUT``."""
    deadline = Deadline(config.get("CONNECT_TIMEOUT", 25.0))
    wait_for_broker(config["AMQP_URI"], deadline)
    for service in services:
        wait_for_database(service, config["DATABASE_URLS"][service], deadline)
