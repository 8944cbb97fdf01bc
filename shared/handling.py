"""The one way a service handles the events it consumes (plain Python, no nameko).

A service declares ``{event: handler}``.  For each delivery the consumer loads
the payload into the event's typed form, claims it once for the service (a
redelivered event does nothing twice), and hands runs of one kind to that
kind's handler, in the order they came, inside one unit of work::

    HANDLERS = {
        events.ROLLOUT_LAUNCHED: projections.record_rollout,             # handler(uow, event)
        events.PARTICIPANT_REGISTERED: batched(projections.record_registrations),  # handler(uow, [event, ...])
    }
"""
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from shared import event_codec
from shared.events import Event


@dataclass(frozen=True)
class Batched:
    """A handler that takes a list of consecutive events of its kind at once."""

    handler: Callable[[Any, list[dict[str, Any]]], None]


def batched(handler: Callable[[Any, list[dict[str, Any]]], None]) -> Batched:
    return Batched(handler)


Handler = Callable[[Any, dict[str, Any]], None] | Batched


# A replayed dead letter travels through the default exchange; this header keeps its routing key.
ROUTING_KEY_HEADER = "x-campaign-routing-key"


class UnknownEvent(ValueError):
    """A delivery of a kind the service does not handle: a wiring mistake, never retried into success."""


def kind_of(routing_key: str) -> str:
    """``participant_registered.pontianak`` -> ``participant_registered``."""
    return routing_key.split(".", 1)[0]


def dispatch(
    uow: Any, handlers: Mapping[Event, Handler], deliveries: Sequence[tuple[Event | str, Mapping[str, Any]]],
) -> int:
    """Handle ``deliveries`` (``(event or its name, payload)``, in order) in ``uow``; returns how many were new."""
    by_name = {event.name: event for event in handlers}
    loaded = []
    for kind, payload in deliveries:
        event = kind if isinstance(kind, Event) else by_name.get(kind)
        if event is None or event not in handlers:
            raise UnknownEvent(f"{getattr(kind, 'name', kind)} is not an event this service handles")
        loaded.append((event, event_codec.load(event, payload)))
    # The claim hands back the first delivery of each event not handled before: an event twice
    # in one batch is handled once.  Its payloads are the very objects given, known by identity.
    claimed = {id(payload) for payload in uow.claim([p for _, p in loaded])}
    handled = 0
    for event, run in groupby(loaded, key=lambda item: item[0]):
        fresh = [payload for _, payload in run if id(payload) in claimed]
        if not fresh:
            continue
        handled += len(fresh)
        handler = handlers[event]
        if isinstance(handler, Batched):
            handler.handler(uow, fresh)
        else:
            for payload in fresh:
                handler(uow, payload)
    return handled
