"""An in-memory unit of work, for unit tests of handlers without a database.

A service's fakes subclass it and hang in-memory repositories on it, as its
real unit of work hangs SQL ones.
"""
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.events import Event


class FakeUnitOfWork:
    def __init__(self, consumer: str = "tests") -> None:
        self.consumer = consumer
        self.emitted: list[dict[str, Any]] = []
        self.events: list[tuple[Event, str, dict[str, Any]]] = []  # (event, city, fields) in emission order
        self.claimed: set[str] = set()
        self.commits = 0

    def emit(self, event: Event, city: str, **fields: Any) -> dict[str, Any]:
        return self.emit_many(event, [(city, fields)])[0]

    def emit_many(self, event: Event, occurrences: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        payloads = []
        for city, fields in occurrences:
            payloads.append(event.create(city, **fields))  # the real schema check
            self.events.append((event, city, fields))
        self.emitted.extend(payloads)
        return payloads

    def emitted_of(self, event: Event) -> list[dict[str, Any]]:
        """The fields of every ``event`` emitted, in order."""
        return [fields for kind, _, fields in self.events if kind is event]

    def claim(self, events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        fresh = []
        for payload in events:
            event_id = str(payload["event_id"])
            if event_id not in self.claimed:
                self.claimed.add(event_id)
                fresh.append(payload)
        return fresh

    def commit(self) -> None:
        self.commits += 1
