"""Long loops that let the rest of their process run.

A service process serves every city from one OS thread of green threads.
A loop over a 5,000-row import that never pauses holds up a single
registration from another city for its whole length; pausing every few
hundred rows bounds that wait to one slice.
"""
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

SLICE = 250

T = TypeVar("T")


def taking_turns(items: Iterable[T], every: int = SLICE) -> Iterator[T]:
    """Yield ``items``, pausing after every ``every`` of them so other work can run.

    The pause is ``time.sleep(0)``: under eventlet (the services) it switches
    to the other green threads; in plain Python it lets other threads take the GIL.
    """
    for count, item in enumerate(items, 1):
        yield item
        if count % every == 0:
            time.sleep(0)
