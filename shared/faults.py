"""Which failures end by themselves (wait them out) and which never will (dead-letter them).

A database restarting, a connection refused, a deadlock or a serialization
conflict will pass: the same message succeeds once it has.  A message that
breaks its contract, or a bug, fails however often it is tried.  Only the
second kind may spend a message's delivery limit.
"""
import random
import socket

from sqlalchemy import exc as sa

from shared.errors import Unavailable

# PostgreSQL error classes that say "try again": connection exceptions (08),
# serialization failure and deadlock (40), lock not available (55P03),
# operator intervention such as a shutdown (57), insufficient resources (53).
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57")
TRANSIENT_SQLSTATES = ("55P03",)


def is_transient(error: BaseException) -> bool:
    if isinstance(error, (Unavailable, sa.DisconnectionError, sa.TimeoutError, socket.timeout,
                          ConnectionError, TimeoutError)):
        return True
    if isinstance(error, sa.DBAPIError):
        if error.connection_invalidated or isinstance(error, (sa.OperationalError, sa.InterfaceError)):
            return True
        sqlstate = getattr(error.orig, "pgcode", None) or ""
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES
    return False


def backoff(attempt: int, first: float = 0.5, cap: float = 30.0) -> float:
    """Seconds before try ``attempt`` (1, 2, ...): doubling from ``first`` up to ``cap``,
    with "full jitter" so that many consumers do not come back at the same instant."""
    return random.uniform(first / 2, min(cap, first * 2 ** (attempt - 1)))
